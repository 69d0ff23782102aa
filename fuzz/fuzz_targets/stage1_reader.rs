//! Arbitrary bytes as a Stage 1 JSON Lines file: the reader must never panic; in
//! skip-invalid mode it accounts for every line.
#![no_main]

use std::io::Cursor;
use std::path::Path;

use libfuzzer_sys::fuzz_target;
use sqlsynth::read::{ReadOptions, Stage1Reader};

fuzz_target!(|data: &[u8]| {
    for skip_invalid in [false, true] {
        let mut reader = Stage1Reader::from_reader(
            Path::new("fuzz.jsonl"),
            Box::new(Cursor::new(data.to_vec())),
            ReadOptions {
                skip_invalid,
                max_line_bytes: 1 << 16,
                ..ReadOptions::default()
            },
        );
        let mut records = 0usize;
        for r in reader.by_ref() {
            match r {
                Ok(_) => records += 1,
                Err(e) => {
                    assert!(!skip_invalid || e.to_string().contains("fuzz.jsonl"));
                    break;
                }
            }
        }
        if skip_invalid {
            let report = reader.report();
            assert_eq!(report.records, records);
            assert!(report.records + report.blank + report.skipped.len() <= report.lines.max(1));
        }
    }
});
