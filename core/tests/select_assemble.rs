//! Token selection + assembly over the structure rows of the seed corpus: every plan
//! assembles to SQL that parses, round-trips, resolves and validates; the question states
//! every literal; the realised structure is what re-extraction from the SQL finds.

use std::io::Cursor;
use std::path::Path;

use sqlsynth::assemble::PostgisAssembler;
use sqlsynth::read::{ReadOptions, Stage1Reader};
use sqlsynth::select::PackSelector;
use sqlsynth::{
    Assembler, Candidate, FeatureExtractor, SchemaPack, StructureRow, TokenSelector, Validator,
};

fn seed_rows(pack: &SchemaPack) -> Vec<StructureRow> {
    let text = pack.corpus_jsonl().expect("embedded corpus").to_string();
    let reader = Stage1Reader::from_reader(
        Path::new("corpus.jsonl"),
        Box::new(Cursor::new(text.into_bytes())),
        ReadOptions::default(),
    );
    let ex = FeatureExtractor::new(pack);
    reader
        .map(|r| {
            let r = r.expect("seed corpus reads");
            ex.extract(&r.sql, &r.labels())
                .expect("seed parses")
                .to_row()
        })
        .collect()
}

#[test]
fn seed_structures_assemble_to_valid_faithful_sql() {
    let pack = SchemaPack::default_pack();
    let selector = PackSelector::new(&pack);
    let validator = Validator::new(&pack);
    let rows = seed_rows(&pack);
    let mut n = 0usize;
    let mut invalid = 0usize;
    let mut match_sum = 0.0;
    let mut exact = 0usize;
    let mut shown = 0usize;
    for (i, row) in rows.iter().enumerate() {
        for k in 0..10u64 {
            let mut rng = sqlsynth::rng::stream(7, sqlsynth::rng::SELECT, (i as u64) * 100 + k);
            let plan = selector.select(&pack, row, &mut rng).expect("plan");
            let a = PostgisAssembler.assemble(&pack, &plan).expect("assembles");
            n += 1;
            if std::env::var_os("SQLSYNTH_SHOW").is_some() && k == 0 && i % 9 == 0 {
                eprintln!(
                    "==== deviations {:?}\n{}\n{}\n",
                    plan.deviations
                        .iter()
                        .map(|d| &d.column)
                        .collect::<Vec<_>>(),
                    a.sql,
                    a.question
                );
            }
            // Round trip: parse → print → parse gives the same AST.
            let parsed = sqlsynth::sql::parse(&a.sql).expect("parses");
            assert_eq!(parsed.len(), 1);
            assert_eq!(parsed[0].to_string(), a.statement.to_string(), "round trip");
            for l in plan.literals() {
                assert!(
                    a.question.contains(&l.text()),
                    "literal {} missing from question {:?}\n{}",
                    l.text(),
                    a.question,
                    a.sql
                );
            }
            let report = validator.validate_candidate(&Candidate {
                sql: a.sql.clone(),
                question: Some(a.question.clone()),
                requested: Some(plan.realized.clone()),
            });
            let cm = report
                .breakdown
                .iter()
                .find(|m| m.metric == "complexity_match")
                .unwrap()
                .score;
            if !report.valid || cm < 1.0 {
                invalid += usize::from(!report.valid);
                if shown < 12 {
                    shown += 1;
                    eprintln!(
                        "---- valid={} cm={cm}\n{}\n{}",
                        report.valid, a.sql, a.question
                    );
                    for f in &report.findings {
                        eprintln!("  {f}");
                    }
                }
            }
            match_sum += cm;
            exact += usize::from(plan.deviations.is_empty());
        }
    }
    eprintln!(
        "plans {n}, invalid {invalid}, exact {exact}, realized-vs-sql match mean {:.4}",
        match_sum / n as f64
    );
    assert_eq!(invalid, 0);
    assert!(match_sum / n as f64 > 0.999);
}
