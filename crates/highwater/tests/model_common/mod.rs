//! What the model-based tests (`model_writable.rs`, `model_pipe.rs`) share:
//! a deterministic proptest runner.

use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

/// A runner with `default_cases` cases (`PROPTEST_CASES` overrides) and a
/// fixed ChaCha seed (`HIGHWATER_MODEL_SEED=n` picks another), so that CI
/// runs the same cases every time; no failure persistence files.
pub fn runner(default_cases: u32) -> TestRunner {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default_cases);
    let config = Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    };
    let rng = match std::env::var("HIGHWATER_MODEL_SEED")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
    {
        Some(seed) => {
            let mut bytes = [0u8; 32];
            bytes[..8].copy_from_slice(&seed.to_le_bytes());
            TestRng::from_seed(RngAlgorithm::ChaCha, &bytes)
        }
        None => TestRng::deterministic_rng(RngAlgorithm::ChaCha),
    };
    TestRunner::new_with_rng(config, rng)
}
