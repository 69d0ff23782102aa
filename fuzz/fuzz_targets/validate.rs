//! Arbitrary bytes as SQL: the validator must never panic, hang or allocate without bound.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use sqlsynth::{SchemaPack, Validator};

fn validator() -> &'static Validator<'static> {
    static PACK: OnceLock<SchemaPack> = OnceLock::new();
    static VALIDATOR: OnceLock<Validator<'static>> = OnceLock::new();
    VALIDATOR.get_or_init(|| Validator::new(PACK.get_or_init(SchemaPack::default_pack)))
}

fuzz_target!(|data: &[u8]| {
    if let Ok(sql) = std::str::from_utf8(data) {
        let report = validator().validate(sql);
        // A verdict always comes with a score in [0, 1].
        assert!((0.0..=1.0).contains(&report.score), "{}", report.score);
    }
});
