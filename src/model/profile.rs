//! Where a forward pass spends its time (`knob bench model --profile`): the
//! model calls [`Profiler::lap`] after each section, which charges the time
//! since the previous lap to that section. Off, a lap is one branch.
use std::time::Instant;

/// The sections of a llama forward pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    /// token embedding lookup (one row dequantized)
    Embedding,
    /// RMS norms before attention, the FFN and the logits
    Norm,
    /// quantizing activations to int8 for the matrix products
    QuantizeActs,
    /// attn_q, attn_k and attn_v products
    MatvecQkv,
    /// RoPE on q and k, and storing k and v in the cache
    RopeKvStore,
    /// scores, softmax and the weighted sum of values, all heads
    Attention,
    /// attn_output product
    MatvecAttnOutput,
    /// ffn_gate and ffn_up products
    MatvecGateUp,
    /// silu(gate) * up
    SiluMul,
    /// ffn_down product
    MatvecDown,
    /// residual additions
    Residual,
    /// the output product over the whole vocabulary
    Logits,
}

impl Op {
    pub const ALL: [Op; 12] = [
        Op::Embedding,
        Op::Norm,
        Op::QuantizeActs,
        Op::MatvecQkv,
        Op::RopeKvStore,
        Op::Attention,
        Op::MatvecAttnOutput,
        Op::MatvecGateUp,
        Op::SiluMul,
        Op::MatvecDown,
        Op::Residual,
        Op::Logits,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Op::Embedding => "embedding lookup",
            Op::Norm => "rms norms",
            Op::QuantizeActs => "quantize activations",
            Op::MatvecQkv => "matvec q/k/v",
            Op::RopeKvStore => "rope + kv store",
            Op::Attention => "attention",
            Op::MatvecAttnOutput => "matvec attn_output",
            Op::MatvecGateUp => "matvec ffn_gate/up",
            Op::SiluMul => "silu * up",
            Op::MatvecDown => "matvec ffn_down",
            Op::Residual => "residual adds",
            Op::Logits => "logits (output matvec)",
        }
    }
}

/// Accumulated nanoseconds per [`Op`] while enabled.
#[derive(Debug, Default)]
pub struct Profiler {
    on: bool,
    last: Option<Instant>,
    ns: [u64; Op::ALL.len()],
}

impl Profiler {
    /// Starts (or stops) recording; starting clears what was recorded.
    pub fn enable(&mut self, on: bool) {
        self.on = on;
        self.ns = [0; Op::ALL.len()];
        self.last = None;
    }

    /// Marks the start of a pass.
    #[inline]
    pub fn start(&mut self) {
        if self.on {
            self.last = Some(Instant::now());
        }
    }

    /// Charges the time since the previous lap (or `start`) to `op`.
    #[inline]
    pub fn lap(&mut self, op: Op) {
        if let (true, Some(last)) = (self.on, self.last) {
            let now = Instant::now();
            self.ns[op as usize] += (now - last).as_nanos() as u64;
            self.last = Some(now);
        }
    }

    /// Nanoseconds per op since `enable(true)`, in [`Op::ALL`] order.
    pub fn totals(&self) -> Vec<(Op, u64)> {
        Op::ALL
            .iter()
            .map(|&op| (op, self.ns[op as usize]))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn laps_charge_the_time_since_the_previous_lap() {
        let mut p = Profiler::default();
        p.start();
        p.lap(Op::Norm);
        assert!(
            p.totals().iter().all(|&(_, ns)| ns == 0),
            "off records nothing"
        );
        p.enable(true);
        p.start();
        std::thread::sleep(std::time::Duration::from_millis(3));
        p.lap(Op::Attention);
        p.lap(Op::Norm);
        let t: std::collections::HashMap<_, _> = p.totals().into_iter().collect();
        assert!(t[&Op::Attention] >= 3_000_000, "{t:?}");
        assert!(t[&Op::Norm] < t[&Op::Attention], "{t:?}");
        p.enable(true);
        assert!(p.totals().iter().all(|&(_, ns)| ns == 0), "enable clears");
    }
}
