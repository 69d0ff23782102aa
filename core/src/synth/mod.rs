//! Synthesizers: models that learn a [`FeatureTable`](crate::FeatureTable) and sample new
//! [`StructureRow`](crate::StructureRow)s.
//!
//! * [`GaussianCopula`] — SDV's `GaussianCopulaSynthesizer` (SDV 1.x with `copulas` and
//!   RDT): every numerical column gets the candidate marginal with the smallest
//!   Kolmogorov–Smirnov statistic, every categorical column is encoded as frequency
//!   intervals of [0, 1] (RDT's `UniformEncoder`), and the dependence between columns is
//!   the correlation matrix of their normal scores. Sampling draws a correlated normal
//!   vector per row and maps it back through the marginals; conditional sampling fixes
//!   categorical columns and draws the rest from the conditional normal.
//!
//! Every synthesizer follows the crate's determinism contract: row `i` of a sample draws
//! only from [`crate::rng::stream`]`(seed, SAMPLE, i)`, so any slice of rows can be
//! produced on its own and equals the same slice of a larger sample.
//!
//! ```
//! use sqlsynth::synth::{GaussianCopula, GaussianCopulaParams};
//! use sqlsynth::{
//!     ColumnKind, ColumnMeta, FeatureTable, FeatureValue, FittedSynthesizer, SampleRequest,
//!     StructureRow, Synthesizer,
//! };
//!
//! let columns = vec![
//!     ColumnMeta { name: "joins".into(), kind: ColumnKind::Numerical { min: 0, max: 10 } },
//!     ColumnMeta {
//!         name: "kind".into(),
//!         kind: ColumnKind::Categorical { categories: vec!["A".into(), "B".into()] },
//!     },
//! ];
//! let rows = (0..200)
//!     .map(|i| {
//!         let joins = i % 7;
//!         let kind = if joins > 3 { "B" } else { "A" };
//!         StructureRow(vec![FeatureValue::Int(joins), FeatureValue::Cat(kind.into())])
//!     })
//!     .collect();
//! let table = FeatureTable { columns, rows };
//!
//! let model = GaussianCopula::new(GaussianCopulaParams::default())?.fit(&table)?;
//! let rows = model.sample_n(100, 42);
//! assert_eq!(rows.len(), 100);
//!
//! // Conditional sampling: every row has kind = B.
//! let request = SampleRequest {
//!     seed: 42,
//!     rows: 0..50,
//!     fixed: vec![("kind".into(), FeatureValue::Cat("B".into()))],
//! };
//! let rows = model.sample(&request)?;
//! assert!(rows.iter().all(|r| r.0[1] == FeatureValue::Cat("B".into())));
//! # Ok::<(), sqlsynth::FitError>(())
//! ```

pub mod gaussian_copula;

pub use gaussian_copula::{
    CandidateScore, ColumnModel, FittedGaussianCopula, FittedMarginal, GaussianCopula,
    GaussianCopulaParams, Marginal, MODEL_FILE,
};
