//! Which instruction-set path runs: detected once, cached, overridable with
//! `KNOB_ISA`.

use std::sync::OnceLock;

use crate::KernelError;

/// A kernel path.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Isa {
    /// Plain Rust, any CPU: the specification.
    Scalar,
    /// x86-64 with AVX2, FMA and F16C.
    Avx2,
    /// x86-64 with AVX-512 F/BW/VL and VNNI (`vpdpbusd`), plus AVX2/FMA/F16C.
    Avx512Vnni,
    /// x86-64 with AMX-TILE and AMX-INT8 (`tdpbssd` on tile registers) for
    /// gemm, granted by the OS; everything else as [`Isa::Avx512Vnni`].
    Amx,
    /// aarch64 Advanced SIMD (every aarch64 CPU).
    Neon,
    /// aarch64 with the dot-product extension (`sdot`).
    NeonDotprod,
}

impl Isa {
    /// Every path, best last within an architecture.
    pub const ALL: [Isa; 6] = [
        Isa::Scalar,
        Isa::Avx2,
        Isa::Avx512Vnni,
        Isa::Amx,
        Isa::Neon,
        Isa::NeonDotprod,
    ];

    /// The name `KNOB_ISA` accepts.
    pub fn name(self) -> &'static str {
        match self {
            Isa::Scalar => "scalar",
            Isa::Avx2 => "avx2",
            Isa::Avx512Vnni => "avx512vnni",
            Isa::Amx => "amx",
            Isa::Neon => "neon",
            Isa::NeonDotprod => "dotprod",
        }
    }

    /// Parses a `KNOB_ISA` value (case-insensitive).
    pub fn from_name(s: &str) -> Result<Isa, KernelError> {
        let s = s.trim().to_ascii_lowercase();
        Isa::ALL
            .into_iter()
            .find(|isa| isa.name() == s)
            .ok_or(KernelError::UnknownIsa { value: s })
    }

    /// Whether this CPU (and this build's architecture) can run the path;
    /// `Err` says what is missing.
    pub fn check(self) -> Result<(), String> {
        match self {
            Isa::Scalar => Ok(()),
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => crate::x86::avx2::Avx2::new()
                .map(|_| ())
                .ok_or_else(|| crate::x86::avx2::REQUIRES.to_string()),
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512Vnni => crate::x86::avx512vnni::Avx512Vnni::new()
                .map(|_| ())
                .ok_or_else(|| crate::x86::avx512vnni::REQUIRES.to_string()),
            #[cfg(target_arch = "x86_64")]
            Isa::Amx => crate::x86::amx::Amx::detect().map(|_| ()),
            #[cfg(target_arch = "aarch64")]
            Isa::Neon => crate::arm::neon::Neon::new()
                .map(|_| ())
                .ok_or_else(|| crate::arm::neon::REQUIRES.to_string()),
            #[cfg(target_arch = "aarch64")]
            Isa::NeonDotprod => crate::arm::dotprod::NeonDotprod::new()
                .map(|_| ())
                .ok_or_else(|| crate::arm::dotprod::REQUIRES.to_string()),
            #[allow(unreachable_patterns)]
            _ => Err(format!(
                "it is a path for another architecture (this build is {})",
                std::env::consts::ARCH
            )),
        }
    }
}

impl std::fmt::Display for Isa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Every path this CPU can run, scalar first.
pub fn available_isas() -> Vec<Isa> {
    Isa::ALL
        .into_iter()
        .filter(|isa| isa.check().is_ok())
        .collect()
}

/// The best path this CPU can run.
pub fn best_isa() -> Isa {
    *available_isas().last().unwrap_or(&Isa::Scalar)
}

/// The path `KNOB_ISA` asks for (checked against the CPU), or the best one
/// when it is unset or empty.
pub fn isa_from_env() -> Result<Isa, KernelError> {
    match std::env::var("KNOB_ISA") {
        Ok(v) if !v.trim().is_empty() => {
            let isa = Isa::from_name(&v)?;
            isa.check().map_err(|reason| KernelError::UnsupportedIsa {
                name: isa.name(),
                reason,
            })?;
            Ok(isa)
        }
        _ => Ok(best_isa()),
    }
}

/// The path the kernels use: decided on the first call and cached. Honours
/// `KNOB_ISA`; a bad value panics with [`isa_from_env`]'s message (call that
/// first to report it as an error instead).
pub fn selected_isa() -> Isa {
    static SELECTED: OnceLock<Isa> = OnceLock::new();
    *SELECTED.get_or_init(|| isa_from_env().unwrap_or_else(|e| panic!("knob-kernels: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_bad_names_are_errors() {
        for isa in Isa::ALL {
            assert_eq!(Isa::from_name(isa.name()).unwrap(), isa);
        }
        assert_eq!(Isa::from_name(" AVX2 ").unwrap(), Isa::Avx2);
        let err = Isa::from_name("sse9").unwrap_err();
        assert!(
            err.to_string().contains("sse9") && err.to_string().contains("avx512vnni"),
            "{err}"
        );
    }

    #[test]
    fn scalar_is_always_available_and_foreign_paths_never_are() {
        let avail = available_isas();
        assert_eq!(avail[0], Isa::Scalar);
        #[cfg(target_arch = "x86_64")]
        assert!(!avail.contains(&Isa::Neon) && !avail.contains(&Isa::NeonDotprod));
        #[cfg(target_arch = "aarch64")]
        assert!(avail.contains(&Isa::Neon) && !avail.contains(&Isa::Avx2));
        #[cfg(target_arch = "x86_64")]
        assert!(Isa::Neon.check().unwrap_err().contains("architecture"));
        assert!(avail.contains(&selected_isa()) || std::env::var("KNOB_ISA").is_ok());
    }
}
