//! A guard against the AVX–SSE transition penalty.
//!
//! faer's matrix products dispatch at run time to AVX2/AVX-512 kernels that
//! can return with the upper halves of the vector registers dirty. Scalar
//! code compiled for baseline x86-64 and glibc's `exp`/`log` then pay a state
//! transition on every call: measured here, `exp` took 210–370 ns after a
//! faer product instead of 6–9 ns before it, which made a softmax gradient on
//! breast cancer 15× slower than its arithmetic. Calling [`zero_upper`]
//! after a product and before a loop of `exp`/`ln` calls removes it.

/// Executes `vzeroupper` where the CPU has AVX (a no-op elsewhere).
#[inline]
pub fn zero_upper() {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx") {
            // SAFETY: AVX is available (checked above); `vzeroupper` only
            // clears the upper halves of the YMM/ZMM registers, which code
            // compiled for baseline x86-64 never keeps live across calls.
            unsafe { std::arch::x86_64::_mm256_zeroupper() }
        }
    }
}
