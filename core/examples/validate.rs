//! Check one query against the CIM Wizard pack and print its verdict, scores and findings.
//!
//! `cargo run --example validate -- "SELECT b.heigth FROM cim_vector.building b"`

use sqlsynth::{SchemaPack, Validator};

fn main() {
    let sql = std::env::args().nth(1).unwrap_or_else(|| {
        "SELECT bp.type, COUNT(*)\nFROM cim_vector.building_properties bp\nWHERE bp.heigth > 10"
            .into()
    });
    let pack = SchemaPack::builtin("cim-wizard").expect("built-in pack");
    let report = Validator::new(&pack).validate(&sql);
    println!("valid: {}, score {:.2}", report.valid, report.score);
    for m in &report.breakdown {
        if m.applicable {
            println!("  {:<20} {:.2}", m.metric, m.score);
        }
    }
    for f in &report.findings {
        println!("  {f}");
    }
}
