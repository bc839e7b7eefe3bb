//! KNOB_ISA handling. One test in its own binary: it changes the process
//! environment, which no other test here may read concurrently.

use knob_kernels::*;

#[test]
fn knob_isa_forces_a_path_or_explains_why_not() {
    std::env::set_var("KNOB_ISA", "bogus");
    let err = isa_from_env().unwrap_err();
    assert!(matches!(err, KernelError::UnknownIsa { .. }));
    assert!(
        err.to_string().contains("bogus") && err.to_string().contains("scalar"),
        "{err}"
    );

    std::env::set_var("KNOB_ISA", "scalar");
    assert_eq!(isa_from_env().unwrap(), Isa::Scalar);

    for isa in Isa::ALL {
        std::env::set_var("KNOB_ISA", isa.name());
        match isa_from_env() {
            Ok(got) => {
                assert_eq!(got, isa);
                assert!(available_isas().contains(&isa));
            }
            Err(e) => {
                assert!(!available_isas().contains(&isa));
                let text = e.to_string();
                assert!(
                    text.contains(isa.name()) && text.contains("cannot run"),
                    "{text}"
                );
            }
        }
    }
    #[cfg(target_arch = "x86_64")]
    {
        std::env::set_var("KNOB_ISA", "dotprod");
        assert!(isa_from_env()
            .unwrap_err()
            .to_string()
            .contains("another architecture"));
    }
    std::env::remove_var("KNOB_ISA");
    assert_eq!(isa_from_env().unwrap(), *available_isas().last().unwrap());

    // CI states which paths the (emulated) CPU must offer, so a path that
    // silently stops being detected fails the run.
    if let Ok(list) = std::env::var("KNOB_EXPECT_ISAS") {
        let want: Vec<Isa> = list
            .split(',')
            .map(|s| Isa::from_name(s).unwrap())
            .collect();
        assert_eq!(available_isas(), want, "KNOB_EXPECT_ISAS");
    }
}
