#!/usr/bin/env python3
"""Counts reversed actions (right setting, opposite value: true/false or inc/dec) in
the failures `knob eval --show` lists. Usage: count_reversals.py KNOB FILE..."""
import re,subprocess,sys
OPP={('inc','dec'),('dec','inc')}
def acts(s):
    return [a.strip().split(' ') for a in s.split(';') if a.strip()]
for f in sys.argv[2:]:
    out=subprocess.run([sys.argv[1],'eval','--show','100000',f],capture_output=True,text=True).stdout
    exp=None; n=0
    for line in out.splitlines():
        m=re.match(r'\s+expected (.*)$',line)
        if m: exp=m.group(1); continue
        m=re.match(r'\s+got\s+(.*?)( \(\d+(\.\d+)?%\))?$',line)
        if m and exp is not None:
            e=acts(exp); g=acts(m.group(1))
            for ea in e:
                for ga in g:
                    if len(ea)<2 or len(ga)<2 or ea[1]!=ga[1]: continue
                    if ea[0]=='set' and ga[0]=='set' and len(ea)>2 and len(ga)>2 and {ea[2],ga[2]}=={'true','false'}: n+=1
                    elif (ea[0],ga[0]) in OPP: n+=1
            exp=None
    print(f, 'reversed:', n)
