//! The Gaussian copula synthesizer, after SDV's `GaussianCopulaSynthesizer` (SDV 1.x, whose
//! model is `copulas.multivariate.GaussianMultivariate` over data preprocessed by RDT).
//!
//! # Model
//!
//! **Numerical (integer) columns.** Each candidate family in
//! [`GaussianCopulaParams::candidates`] is fitted to the column (treated as continuous, as
//! `copulas` does) and the one with the smallest Kolmogorov–Smirnov statistic
//! `D = supₓ |Fₙ(x) − F(x)|` wins (`copulas.univariate.selection.select_univariate`;
//! candidates that cannot be fitted are skipped, ties keep the earlier candidate, and if
//! none fits the column falls back to a normal, as `GaussianMultivariate` does). How each
//! family is fitted:
//!
//! | family | fit |
//! |---|---|
//! | [`Marginal::Normal`] | maximum likelihood: `loc` = mean, `scale` = population standard deviation |
//! | [`Marginal::TruncatedNormal`] | truncation bounds `[min − ε, max + ε]` of the data (ε = `f32::EPSILON`); `loc`, `scale` by maximum likelihood (Nelder–Mead) within `loc ∈ [min − ε, max + ε]`, `scale ∈ (0, (max − min + 2ε)²]`, started at (mean, std) — the bounds and start `copulas` gives its optimiser |
//! | [`Marginal::Beta`] | `loc` = min, `scale` = max − min (the bounds `copulas` passes to `scipy.stats.beta.fit`), shapes `a`, `b` by the method of moments on the data scaled to [0, 1] |
//! | [`Marginal::Gamma`] | three-parameter maximum likelihood (`scipy.stats.gamma.fit`), with `loc` kept at least half the smallest gap between distinct values below the minimum (without that bound the likelihood of data with ties at the minimum is unbounded): shape and scale are the exact MLE for a given `loc`, `loc` maximises that profile likelihood (grid, then golden-section search); a shape above 10⁶ (a normal in all but name) fails the fit |
//! | [`Marginal::Uniform`] | `loc` = min, `scale` = max − min |
//! | [`Marginal::Empirical`] | the observed frequencies (opt-in, not among SDV's candidates: the discrete counterpart of SDV's non-parametric `gaussian_kde`; its KS statistic is 0, so it wins whenever it is a candidate) |
//!
//! The default candidates are SDV's five parametric families ([`Marginal::PARAMETRIC`]).
//! They are continuous, so on discrete data with a dominant value (a count that is mostly
//! 0) no candidate reproduces that value's frequency well; [`Marginal::Empirical`] does,
//! exactly.
//!
//! A column with a single value gets [`FittedMarginal::Constant`] and always samples that
//! value; it is independent of the other columns in the copula.
//!
//! Samples are rounded to integers and clipped to the observed `[min, max]` when
//! [`GaussianCopulaParams::enforce_min_max`] is set (RDT's `FloatFormatter` with
//! `enforce_min_max_values` and learned rounding), otherwise to the column's declared
//! domain widened by the observed values. Since `round(F⁻¹(Φ(z))) ≥ k + 1` exactly when
//! `z ≥ Φ⁻¹(F(k + ½))`, the thresholds `Φ⁻¹(F(k + ½))` between successive integers are
//! computed once when the model is built and a sample is a binary search of them: exact,
//! and with no special functions evaluated per cell (columns spanning more than 2¹⁶
//! integers compute the thresholds a binary search visits on the fly instead).
//!
//! **Categorical columns** (RDT's `UniformEncoder`). The observed categories, in order of
//! first appearance in the table, split [0, 1] into consecutive intervals whose widths are
//! their frequencies. A sampled `u = Φ(z)` decodes to the category whose interval
//! `(low, high]` contains it. Categories that never occur in the table have no interval
//! and are never sampled. (SDV then fits its default marginal, a beta, to the encoded
//! column; here the encoded value is its own CDF value, since it is uniform on [0, 1] by
//! construction.)
//!
//! **Normal scores.** Sampling turns `z` into integer `k` exactly when `z` falls in the
//! cell `[Φ⁻¹(F(k − ½)), Φ⁻¹(F(k + ½)))` (the cells of the clip bounds extend to `∓∞`), and
//! into a category when `z` falls in `[Φ⁻¹(low), Φ⁻¹(high)]`. Fitting scores every value by
//! the mean of `Z ~ N(0, 1)` over its cell. This departs from `copulas`, which scores
//! `Φ⁻¹(clip(F(x), ε, 1 − ε))`: for the bounded families `F(min) = 0`, so every row at the
//! minimum of a column scores `Φ⁻¹(ε) ≈ −5.2`, and these outliers cut the correlations
//! learned (0.95 fell to 0.81 on a test table). For categories RDT draws a point uniformly
//! inside the interval; that noise is independent of every other column and attenuates the
//! correlation by a further factor (on a test table 0.63 fell to 0.50), so the cell mean is
//! the default and RDT's draw is available as
//! [`GaussianCopulaParams::categorical_jitter`] (drawn from
//! [`crate::rng::stream`]`(fit_seed, FIT, 0)`, column by column). Without it fitting uses
//! no randomness at all.
//!
//! **Copula.** The Pearson correlation matrix of the normal scores (pairs with a constant
//! column: 0), made positive definite by raising eigenvalues below 10⁻⁶ and rescaling to a
//! unit diagonal (`copulas` adds ε to the diagonal of singular matrices; the floor also
//! keeps the conditional covariances well conditioned), then its Cholesky factor `L`. A row
//! draws `ε ~ N(0, I)` and takes `z = L ε`.
//!
//! **Conditional sampling** (`copulas` `GaussianMultivariate.sample(conditions=…)`, with
//! the condition encoded per row as SDV does). Fixed categorical columns `b` get a latent
//! value `Φ⁻¹(u)`, `u` drawn uniformly in their category's interval; the other columns `a`
//! are drawn from `N(Σ_ab Σ_bb⁻¹ z_b, Σ_aa − Σ_ab Σ_bb⁻¹ Σ_ba)`, and the fixed columns carry
//! exactly the requested values. The conditional matrices are computed once per request.
//!
//! **Random draws.** Row `i` of a sample draws, from
//! [`crate::rng::stream`]`(seed, SAMPLE, i)` only: first one uniform per fixed column (in
//! column order), then one standard normal per free column (in column order).
//!
//! **Saved model.** [`FittedSynthesizer::save`] writes [`MODEL_FILE`] (JSON) in the given
//! directory. Floating-point values are stored as strings in Rust's shortest round-trip
//! notation (e.g. `"0.1"`, `"1e-7"`), because a JSON number does not always parse back to
//! the same `f64`; a loaded model therefore samples bit-identically to the saved one.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::fs;
use std::io::Write;
use std::path::Path;
use std::str::FromStr;

use rand::Rng;
use rand_distr::StandardNormal;
use serde::{Deserialize, Serialize};
use statrs::function::beta::checked_beta_reg;
use statrs::function::erf::{erfc, erfc_inv};
use statrs::function::gamma::{checked_gamma_lr, checked_gamma_ur, digamma, ln_gamma};

use crate::features::{ColumnKind, ColumnMeta, FeatureTable, FeatureValue, StructureRow};
use crate::{rng, FitError, FittedSynthesizer, SampleRequest, Synthesizer};

/// File name of a saved model inside the directory given to
/// [`FittedSynthesizer::save`].
pub const MODEL_FILE: &str = "gaussian_copula.json";

/// Value of the `format` field of a saved model.
const FORMAT: &str = "sqlsynth.gaussian_copula";
/// Version of the saved-model layout.
const VERSION: u32 = 1;
/// `copulas.utils.EPSILON`: CDF values are clipped into `[EPSILON, 1 − EPSILON]`.
const EPSILON: f64 = f32::EPSILON as f64;
/// Smallest eigenvalue kept in the correlation matrix.
const EIGEN_FLOOR: f64 = 1e-6;
/// Integer columns spanning at most this many values get a precomputed threshold table.
const TABLE_MAX: u64 = 1 << 16;
/// Largest gamma shape accepted: beyond it the gamma is a normal for all purposes, and the
/// incomplete gamma function needs `O(√a)` terms.
const GAMMA_MAX_SHAPE: f64 = 1e6;
/// Requests at least this long are sampled in parallel (with the `parallel` feature).
#[cfg(feature = "parallel")]
const PARALLEL_MIN_ROWS: usize = 4096;

// ---------------------------------------------------------------------------------------
// Hyperparameters and marginal families.
// ---------------------------------------------------------------------------------------

/// A candidate family for the marginal distribution of a numerical column. Serialized with
/// SDV's names (`norm`, `truncnorm`, `beta`, `gamma`, `uniform`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Marginal {
    /// Normal distribution (`copulas.univariate.GaussianUnivariate`).
    #[serde(rename = "norm")]
    Normal,
    /// Normal truncated to the data range (`copulas.univariate.TruncatedGaussian`).
    #[serde(rename = "truncnorm")]
    TruncatedNormal,
    /// Four-parameter beta on the data range (`copulas.univariate.BetaUnivariate`).
    #[serde(rename = "beta")]
    Beta,
    /// Three-parameter gamma (`copulas.univariate.GammaUnivariate`).
    #[serde(rename = "gamma")]
    Gamma,
    /// Uniform on the data range (`copulas.univariate.UniformUnivariate`).
    #[serde(rename = "uniform")]
    Uniform,
    /// The column's own empirical distribution (not in SDV's parametric set: the discrete
    /// counterpart of its non-parametric `gaussian_kde`). It reproduces the observed
    /// frequencies of every value exactly and never samples an unobserved one. Its KS
    /// statistic is 0, so listed among candidates it always wins: use it alone, or per
    /// column through [`GaussianCopulaParams::numerical_distributions`].
    #[serde(rename = "empirical")]
    Empirical,
}

impl Marginal {
    /// SDV's parametric families, in the default candidate order.
    pub const PARAMETRIC: [Marginal; 5] = [
        Marginal::Normal,
        Marginal::TruncatedNormal,
        Marginal::Beta,
        Marginal::Gamma,
        Marginal::Uniform,
    ];

    /// Every family.
    pub const ALL: [Marginal; 6] = [
        Marginal::Normal,
        Marginal::TruncatedNormal,
        Marginal::Beta,
        Marginal::Gamma,
        Marginal::Uniform,
        Marginal::Empirical,
    ];

    /// SDV's name for the family (`norm`, `truncnorm`, `beta`, `gamma`, `uniform`), or
    /// `empirical`.
    pub fn name(self) -> &'static str {
        match self {
            Marginal::Normal => "norm",
            Marginal::TruncatedNormal => "truncnorm",
            Marginal::Beta => "beta",
            Marginal::Gamma => "gamma",
            Marginal::Uniform => "uniform",
            Marginal::Empirical => "empirical",
        }
    }

    /// Fit this family to a non-constant column; `None` when it cannot be fitted.
    fn fit(self, data: &ColumnData) -> Option<FittedMarginal> {
        let fitted = match self {
            Marginal::Normal => FittedMarginal::Normal {
                loc: data.mean,
                scale: data.std,
            },
            Marginal::Uniform => FittedMarginal::Uniform {
                loc: data.min,
                scale: data.max - data.min,
            },
            Marginal::Empirical => FittedMarginal::Empirical {
                values: data.distinct.iter().map(|&(v, _)| v).collect(),
                counts: data.distinct.iter().map(|&(_, c)| c as u64).collect(),
            },
            Marginal::Beta => fit_beta(data)?,
            Marginal::Gamma => fit_gamma(data)?,
            Marginal::TruncatedNormal => fit_truncated_normal(data)?,
        };
        fitted.validate().ok()?;
        Some(fitted)
    }
}

impl fmt::Display for Marginal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Marginal {
    type Err = String;

    /// Accepts SDV's names and the long ones (`normal`, `truncated_normal`, …).
    fn from_str(s: &str) -> Result<Marginal, String> {
        match s.to_ascii_lowercase().replace('-', "_").as_str() {
            "norm" | "normal" | "gaussian" => Ok(Marginal::Normal),
            "truncnorm" | "truncated_normal" | "truncated_gaussian" => {
                Ok(Marginal::TruncatedNormal)
            }
            "beta" => Ok(Marginal::Beta),
            "gamma" => Ok(Marginal::Gamma),
            "uniform" => Ok(Marginal::Uniform),
            "empirical" | "ecdf" => Ok(Marginal::Empirical),
            _ => Err(format!(
                "unknown marginal `{s}` (expected norm, truncnorm, beta, gamma, uniform or empirical)"
            )),
        }
    }
}

/// Hyperparameters of [`GaussianCopula`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct GaussianCopulaParams {
    /// Families tried for every numerical column; the one with the smallest KS statistic
    /// is kept (earlier ones win ties). Default: SDV's five, [`Marginal::PARAMETRIC`].
    pub candidates: Vec<Marginal>,
    /// Per-column override (SDV's `numerical_distributions`): the named numerical columns
    /// use this family instead of the selection among `candidates`.
    pub numerical_distributions: BTreeMap<String, Marginal>,
    /// Clip sampled integers to the observed `[min, max]` (SDV's `enforce_min_max_values`);
    /// otherwise to the column's declared domain widened by the observed values.
    /// Default: true.
    pub enforce_min_max: bool,
    /// Encode categorical values while fitting as RDT's `UniformEncoder` does: a point drawn
    /// uniformly inside the category's interval (from the stream `(fit_seed, FIT, 0)`).
    /// Default: false — the normal score of a category is the mean of `Z` over its
    /// interval, which loses less of the dependence (see the module documentation).
    pub categorical_jitter: bool,
    /// Seed of the jitter stream used when `categorical_jitter` is set. Default: 0.
    pub fit_seed: u64,
}

impl Default for GaussianCopulaParams {
    fn default() -> GaussianCopulaParams {
        GaussianCopulaParams {
            candidates: Marginal::PARAMETRIC.to_vec(),
            numerical_distributions: BTreeMap::new(),
            enforce_min_max: true,
            categorical_jitter: false,
            fit_seed: 0,
        }
    }
}

/// The Gaussian copula synthesizer with checked hyperparameters. See the [module
/// documentation](self) for the model.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct GaussianCopula {
    params: GaussianCopulaParams,
}

impl GaussianCopula {
    /// Check the hyperparameters: at least one candidate, none listed twice.
    pub fn new(params: GaussianCopulaParams) -> Result<GaussianCopula, FitError> {
        if params.candidates.is_empty() {
            return Err(FitError::InvalidParameter {
                name: "candidates",
                reason: "at least one candidate marginal is needed".into(),
            });
        }
        for (i, c) in params.candidates.iter().enumerate() {
            if params.candidates[..i].contains(c) {
                return Err(FitError::InvalidParameter {
                    name: "candidates",
                    reason: format!("`{c}` is listed more than once"),
                });
            }
        }
        if let Some(name) = params.numerical_distributions.keys().find(|k| k.is_empty()) {
            return Err(FitError::InvalidParameter {
                name: "numerical_distributions",
                reason: format!("empty column name `{name}`"),
            });
        }
        Ok(GaussianCopula { params })
    }

    /// The hyperparameters.
    pub fn params(&self) -> &GaussianCopulaParams {
        &self.params
    }
}

// ---------------------------------------------------------------------------------------
// Fitted marginals.
// ---------------------------------------------------------------------------------------

/// A fitted marginal distribution (scipy's parameterisation: `x = loc + scale · y`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "family", rename_all = "snake_case")]
pub enum FittedMarginal {
    /// A column with a single value.
    Constant {
        /// The value.
        #[serde(with = "exact")]
        value: f64,
    },
    /// `N(loc, scale²)`.
    #[serde(rename = "norm")]
    Normal {
        /// Mean.
        #[serde(with = "exact")]
        loc: f64,
        /// Standard deviation.
        #[serde(with = "exact")]
        scale: f64,
    },
    /// `N(loc, scale²)` truncated to `[lower, upper]`.
    #[serde(rename = "truncnorm")]
    TruncatedNormal {
        /// Lower truncation bound.
        #[serde(with = "exact")]
        lower: f64,
        /// Upper truncation bound.
        #[serde(with = "exact")]
        upper: f64,
        /// Mean of the untruncated normal.
        #[serde(with = "exact")]
        loc: f64,
        /// Standard deviation of the untruncated normal.
        #[serde(with = "exact")]
        scale: f64,
    },
    /// `loc + scale · Beta(a, b)`.
    Beta {
        /// First shape.
        #[serde(with = "exact")]
        a: f64,
        /// Second shape.
        #[serde(with = "exact")]
        b: f64,
        /// Lower bound.
        #[serde(with = "exact")]
        loc: f64,
        /// Width.
        #[serde(with = "exact")]
        scale: f64,
    },
    /// `loc + Gamma(shape a, scale)`.
    Gamma {
        /// Shape.
        #[serde(with = "exact")]
        a: f64,
        /// Location (lower bound of the support).
        #[serde(with = "exact")]
        loc: f64,
        /// Scale.
        #[serde(with = "exact")]
        scale: f64,
    },
    /// Uniform on `[loc, loc + scale]`.
    Uniform {
        /// Lower bound.
        #[serde(with = "exact")]
        loc: f64,
        /// Width.
        #[serde(with = "exact")]
        scale: f64,
    },
    /// The empirical distribution: `P(X ≤ x)` = share of observations `≤ x`.
    Empirical {
        /// Distinct observed values, ascending.
        #[serde(with = "exact_vec")]
        values: Vec<f64>,
        /// How often each occurred.
        counts: Vec<u64>,
    },
}

impl FittedMarginal {
    /// The family's name: SDV's name for the five candidates, `constant` otherwise.
    pub fn family(&self) -> &'static str {
        match self {
            FittedMarginal::Constant { .. } => "constant",
            FittedMarginal::Normal { .. } => Marginal::Normal.name(),
            FittedMarginal::TruncatedNormal { .. } => Marginal::TruncatedNormal.name(),
            FittedMarginal::Beta { .. } => Marginal::Beta.name(),
            FittedMarginal::Gamma { .. } => Marginal::Gamma.name(),
            FittedMarginal::Uniform { .. } => Marginal::Uniform.name(),
            FittedMarginal::Empirical { .. } => Marginal::Empirical.name(),
        }
    }

    /// The cumulative distribution function `P(X ≤ x)`.
    pub fn cdf(&self, x: f64) -> f64 {
        match *self {
            FittedMarginal::Constant { value } => {
                if x < value {
                    0.0
                } else {
                    1.0
                }
            }
            FittedMarginal::Normal { loc, scale } => norm_cdf((x - loc) / scale),
            FittedMarginal::TruncatedNormal {
                lower,
                upper,
                loc,
                scale,
            } => {
                if x <= lower {
                    0.0
                } else if x >= upper {
                    1.0
                } else {
                    let (a, b, t) = (
                        (lower - loc) / scale,
                        (upper - loc) / scale,
                        (x - loc) / scale,
                    );
                    let p = if a > 0.0 {
                        (norm_sf(a) - norm_sf(t)) / (norm_sf(a) - norm_sf(b))
                    } else {
                        (norm_cdf(t) - norm_cdf(a)) / (norm_cdf(b) - norm_cdf(a))
                    };
                    p.clamp(0.0, 1.0)
                }
            }
            FittedMarginal::Beta { a, b, loc, scale } => {
                let y = (x - loc) / scale;
                if y <= 0.0 {
                    0.0
                } else if y >= 1.0 {
                    1.0
                } else {
                    checked_beta_reg(a, b, y).unwrap_or(f64::NAN)
                }
            }
            FittedMarginal::Gamma { a, loc, scale } => {
                let y = (x - loc) / scale;
                if y <= 0.0 {
                    0.0
                } else if y == f64::INFINITY {
                    1.0
                } else {
                    checked_gamma_lr(a, y).unwrap_or(f64::NAN)
                }
            }
            FittedMarginal::Uniform { loc, scale } => ((x - loc) / scale).clamp(0.0, 1.0),
            FittedMarginal::Empirical {
                ref values,
                ref counts,
            } => {
                let (below, total) = empirical_counts(values, counts, x);
                below as f64 / total as f64
            }
        }
    }

    /// The survival function `P(X > x)`, computed directly (not as `1 − cdf`) where that
    /// keeps precision in the upper tail.
    pub fn sf(&self, x: f64) -> f64 {
        match *self {
            FittedMarginal::Normal { loc, scale } => norm_sf((x - loc) / scale),
            FittedMarginal::TruncatedNormal {
                lower,
                upper,
                loc,
                scale,
            } => {
                if x <= lower {
                    1.0
                } else if x >= upper {
                    0.0
                } else {
                    let (a, b, t) = (
                        (lower - loc) / scale,
                        (upper - loc) / scale,
                        (x - loc) / scale,
                    );
                    let q = if a > 0.0 {
                        (norm_sf(t) - norm_sf(b)) / (norm_sf(a) - norm_sf(b))
                    } else {
                        (norm_cdf(b) - norm_cdf(t)) / (norm_cdf(b) - norm_cdf(a))
                    };
                    q.clamp(0.0, 1.0)
                }
            }
            FittedMarginal::Beta { a, b, loc, scale } => {
                let y = (x - loc) / scale;
                if y <= 0.0 {
                    1.0
                } else if y >= 1.0 {
                    0.0
                } else {
                    checked_beta_reg(b, a, 1.0 - y).unwrap_or(f64::NAN)
                }
            }
            FittedMarginal::Gamma { a, loc, scale } => {
                let y = (x - loc) / scale;
                if y <= 0.0 {
                    1.0
                } else if y == f64::INFINITY {
                    0.0
                } else {
                    checked_gamma_ur(a, y).unwrap_or(f64::NAN)
                }
            }
            FittedMarginal::Empirical {
                ref values,
                ref counts,
            } => {
                let (below, total) = empirical_counts(values, counts, x);
                (total - below) as f64 / total as f64
            }
            FittedMarginal::Constant { .. } | FittedMarginal::Uniform { .. } => 1.0 - self.cdf(x),
        }
    }

    /// `Φ⁻¹(F(x))`, taken through the survival function in the upper half so that the
    /// upper tail keeps its precision.
    fn normal_score_threshold(&self, x: f64) -> f64 {
        let p = self.cdf(x);
        if p <= 0.5 {
            norm_ppf(p)
        } else {
            -norm_ppf(self.sf(x))
        }
    }

    /// Check that the parameters describe a proper distribution.
    fn validate(&self) -> Result<(), String> {
        let ok = match *self {
            FittedMarginal::Constant { value } => value.is_finite(),
            FittedMarginal::Normal { loc, scale } | FittedMarginal::Uniform { loc, scale } => {
                loc.is_finite() && scale.is_finite() && scale > 0.0
            }
            FittedMarginal::TruncatedNormal {
                lower,
                upper,
                loc,
                scale,
            } => {
                lower.is_finite()
                    && upper.is_finite()
                    && lower < upper
                    && loc >= lower
                    && loc <= upper
                    && scale.is_finite()
                    && scale > 0.0
            }
            FittedMarginal::Beta { a, b, loc, scale } => {
                a.is_finite()
                    && b.is_finite()
                    && a > 0.0
                    && b > 0.0
                    && loc.is_finite()
                    && scale.is_finite()
                    && scale > 0.0
            }
            FittedMarginal::Gamma { a, loc, scale } => {
                a.is_finite()
                    && a > 0.0
                    && a <= GAMMA_MAX_SHAPE
                    && loc.is_finite()
                    && scale.is_finite()
                    && scale > 0.0
            }
            FittedMarginal::Empirical {
                ref values,
                ref counts,
            } => {
                !values.is_empty()
                    && values.len() == counts.len()
                    && values.iter().all(|v| v.is_finite())
                    && values.windows(2).all(|w| w[0] < w[1])
                    && counts.iter().all(|&c| c > 0)
                    && counts
                        .iter()
                        .try_fold(0u64, |a, &c| a.checked_add(c))
                        .is_some()
            }
        };
        if ok {
            Ok(())
        } else {
            Err(format!("invalid marginal parameters {self:?}"))
        }
    }
}

impl fmt::Display for FittedMarginal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            FittedMarginal::Constant { value } => write!(f, "constant({value})"),
            FittedMarginal::Normal { loc, scale } => {
                write!(f, "norm(loc={loc:.4}, scale={scale:.4})")
            }
            FittedMarginal::TruncatedNormal {
                lower,
                upper,
                loc,
                scale,
            } => write!(
                f,
                "truncnorm(lower={lower:.4}, upper={upper:.4}, loc={loc:.4}, scale={scale:.4})"
            ),
            FittedMarginal::Beta { a, b, loc, scale } => {
                write!(
                    f,
                    "beta(a={a:.4}, b={b:.4}, loc={loc:.4}, scale={scale:.4})"
                )
            }
            FittedMarginal::Gamma { a, loc, scale } => {
                write!(f, "gamma(a={a:.4}, loc={loc:.4}, scale={scale:.4})")
            }
            FittedMarginal::Uniform { loc, scale } => {
                write!(f, "uniform(loc={loc:.4}, scale={scale:.4})")
            }
            FittedMarginal::Empirical { ref values, .. } => {
                write!(f, "empirical({} values)", values.len())
            }
        }
    }
}

/// How well one candidate family fitted a column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CandidateScore {
    /// The family.
    pub marginal: Marginal,
    /// Its Kolmogorov–Smirnov statistic against the column; `None` when it could not be
    /// fitted.
    pub ks: Option<f64>,
}

/// What the model learned about one column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ColumnModel {
    /// An integer column.
    Numerical {
        /// The selected marginal.
        marginal: FittedMarginal,
        /// Lowest value sampled (clip bound).
        min: i64,
        /// Highest value sampled (clip bound).
        max: i64,
        /// KS statistic of every candidate tried, in candidate order (empty for a
        /// constant column).
        selection: Vec<CandidateScore>,
    },
    /// A categorical column encoded as frequency intervals.
    Categorical {
        /// Observed categories in order of first appearance: the order of their intervals.
        categories: Vec<String>,
        /// How often each occurred in the table.
        counts: Vec<u64>,
    },
}

// ---------------------------------------------------------------------------------------
// The fitted model.
// ---------------------------------------------------------------------------------------

/// The persistent part of a fitted model: what [`MODEL_FILE`] holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct ModelSpec {
    format: String,
    version: u32,
    params: GaussianCopulaParams,
    rows_fitted: u64,
    columns: Vec<ColumnMeta>,
    models: Vec<ColumnModel>,
    #[serde(with = "exact_matrix")]
    correlation: Vec<Vec<f64>>,
}

/// How one column turns a latent normal value into a cell.
#[derive(Debug, Clone)]
enum Sampler {
    /// Always this value.
    Constant(FeatureValue),
    /// `lo + #{k : z ≥ threshold(k)}` over `k ∈ [lo, hi)`, threshold(k) = `Φ⁻¹(F(k + ½))`.
    Integer {
        lo: i64,
        hi: i64,
        /// `threshold(lo + i)` for `i < hi − lo` (non-decreasing), when the span is small.
        table: Option<Vec<f64>>,
        marginal: FittedMarginal,
    },
    /// `values[#{j : z ≥ thresholds[j]}]`: an empirical marginal, whose rounded inverse
    /// CDF only takes observed values (the same result as an `Integer` table, whatever the
    /// span).
    Discrete {
        /// `Φ⁻¹(F(v))` for every observed value `v` but the last.
        thresholds: Vec<f64>,
        values: Vec<FeatureValue>,
    },
    /// The category whose interval holds `Φ(z)`.
    Category {
        /// `Φ⁻¹` of every interval's upper end but the last.
        thresholds: Vec<f64>,
        /// Interval upper ends (the last is 1).
        ends: Vec<f64>,
        /// The categories as cells.
        values: Vec<FeatureValue>,
    },
}

impl Sampler {
    fn new(model: &ColumnModel) -> Sampler {
        match model {
            ColumnModel::Numerical {
                marginal, min, max, ..
            } => {
                let (lo, hi) = (*min, *max);
                match marginal {
                    FittedMarginal::Constant { value } => {
                        return Sampler::Constant(FeatureValue::Int(clip_round(*value, lo, hi)))
                    }
                    FittedMarginal::Empirical { values, .. } => {
                        let mut running = f64::NEG_INFINITY;
                        return Sampler::Discrete {
                            thresholds: values[..values.len() - 1]
                                .iter()
                                .map(|&v| {
                                    let t = marginal.normal_score_threshold(v);
                                    running = if t > running { t } else { running };
                                    running
                                })
                                .collect(),
                            values: values
                                .iter()
                                .map(|&v| FeatureValue::Int(clip_round(v, lo, hi)))
                                .collect(),
                        };
                    }
                    _ => {}
                }
                let span = hi.abs_diff(lo);
                let table = (span <= TABLE_MAX).then(|| {
                    let mut running = f64::NEG_INFINITY;
                    (lo..hi)
                        .map(|k| {
                            let t = marginal.normal_score_threshold(k as f64 + 0.5);
                            running = if t > running { t } else { running };
                            running
                        })
                        .collect()
                });
                Sampler::Integer {
                    lo,
                    hi,
                    table,
                    marginal: marginal.clone(),
                }
            }
            ColumnModel::Categorical { categories, counts } => {
                let ends = interval_ends(counts);
                let thresholds = ends[..ends.len() - 1]
                    .iter()
                    .map(|&c| norm_ppf(c))
                    .collect();
                Sampler::Category {
                    thresholds,
                    ends,
                    values: categories
                        .iter()
                        .map(|c| FeatureValue::Cat(c.clone()))
                        .collect(),
                }
            }
        }
    }

    fn value(&self, z: f64) -> FeatureValue {
        match self {
            Sampler::Constant(v) => v.clone(),
            Sampler::Integer {
                lo,
                hi,
                table,
                marginal,
            } => {
                let k = match table {
                    Some(t) => *lo + t.partition_point(|&t| t <= z) as i64,
                    None => {
                        let (mut a, mut b) = (*lo, *hi);
                        while a < b {
                            // In [a, b) for any a < b, without overflow.
                            let mid = a + ((b as i128 - a as i128) / 2) as i64;
                            if marginal.normal_score_threshold(mid as f64 + 0.5) <= z {
                                a = mid + 1;
                            } else {
                                b = mid;
                            }
                        }
                        a
                    }
                };
                FeatureValue::Int(k)
            }
            Sampler::Discrete { thresholds, values } => {
                values[thresholds.partition_point(|&t| t <= z)].clone()
            }
            Sampler::Category {
                thresholds, values, ..
            } => values[thresholds.partition_point(|&t| t < z)].clone(),
        }
    }
}

/// A fitted Gaussian copula: samples structure rows, saves and loads itself.
#[derive(Debug, Clone)]
pub struct FittedGaussianCopula {
    spec: ModelSpec,
    /// Correlation matrix, row-major.
    correlation: Vec<f64>,
    /// Its Cholesky factor, row-major lower triangle.
    cholesky: Vec<f64>,
    samplers: Vec<Sampler>,
    /// Column index by name.
    index: HashMap<String, usize>,
}

impl FittedGaussianCopula {
    fn from_spec(spec: ModelSpec) -> Result<FittedGaussianCopula, String> {
        if spec.format != FORMAT {
            return Err(format!(
                "not a Gaussian copula model (format `{}`)",
                spec.format
            ));
        }
        if spec.version != VERSION {
            return Err(format!(
                "model version {} is not supported (expected {VERSION})",
                spec.version
            ));
        }
        let n = spec.columns.len();
        if spec.models.len() != n {
            return Err(format!(
                "{} column models for {n} columns",
                spec.models.len()
            ));
        }
        if spec.correlation.len() != n || spec.correlation.iter().any(|r| r.len() != n) {
            return Err(format!("correlation matrix is not {n}×{n}"));
        }
        if spec.correlation.iter().flatten().any(|c| !c.is_finite()) {
            return Err("correlation matrix has a non-finite entry".into());
        }
        let mut index = HashMap::with_capacity(n);
        for (i, (meta, model)) in spec.columns.iter().zip(&spec.models).enumerate() {
            if index.insert(meta.name.clone(), i).is_some() {
                return Err(format!("column `{}` appears twice", meta.name));
            }
            match (model, &meta.kind) {
                (
                    ColumnModel::Numerical {
                        marginal, min, max, ..
                    },
                    ColumnKind::Numerical { .. },
                ) => {
                    if min > max {
                        return Err(format!("column `{}`: min {min} > max {max}", meta.name));
                    }
                    marginal
                        .validate()
                        .map_err(|e| format!("column `{}`: {e}", meta.name))?;
                }
                (
                    ColumnModel::Categorical { categories, counts },
                    ColumnKind::Categorical { .. },
                ) => {
                    if categories.is_empty()
                        || categories.len() != counts.len()
                        || counts.contains(&0)
                    {
                        return Err(format!(
                            "column `{}`: categories and counts do not match",
                            meta.name
                        ));
                    }
                }
                _ => {
                    return Err(format!(
                        "column `{}`: model kind does not match the column kind",
                        meta.name
                    ))
                }
            }
        }
        let correlation: Vec<f64> = spec.correlation.iter().flatten().copied().collect();
        let cholesky = robust_cholesky(&correlation, n);
        let samplers = spec.models.iter().map(Sampler::new).collect();
        Ok(FittedGaussianCopula {
            spec,
            correlation,
            cholesky,
            samplers,
            index,
        })
    }

    /// Load a model saved by [`FittedSynthesizer::save`] from `dir`.
    pub fn load(dir: &Path) -> Result<FittedGaussianCopula, FitError> {
        let path = dir.join(MODEL_FILE);
        let model_error = |message: String| FitError::Model {
            path: path.display().to_string(),
            message,
        };
        let bytes = fs::read(&path).map_err(|e| model_error(e.to_string()))?;
        let spec: ModelSpec =
            serde_json::from_slice(&bytes).map_err(|e| model_error(e.to_string()))?;
        FittedGaussianCopula::from_spec(spec).map_err(model_error)
    }

    /// Rows `0..n` of the unconditional sample for `seed`.
    pub fn sample_n(&self, n: u64, seed: u64) -> Vec<StructureRow> {
        let plan = self.unconditional_plan();
        self.sample_plan(&plan, seed, 0..n)
    }

    /// The family chosen for every column, as `(column, family)`: SDV's name of the
    /// selected marginal (`norm`, `truncnorm`, `beta`, `gamma`, `uniform`), `constant` for a
    /// single-valued numerical column, `categorical` for a categorical one. Parameters and
    /// KS statistics are in [`column_models`](Self::column_models).
    pub fn marginals(&self) -> Vec<(String, String)> {
        self.spec
            .columns
            .iter()
            .zip(&self.spec.models)
            .map(|(meta, model)| {
                let family = match model {
                    ColumnModel::Numerical { marginal, .. } => marginal.family(),
                    ColumnModel::Categorical { .. } => "categorical",
                };
                (meta.name.clone(), family.to_string())
            })
            .collect()
    }

    /// What was learned about each column, in column order.
    pub fn column_models(&self) -> &[ColumnModel] {
        &self.spec.models
    }

    /// The correlation matrix of the normal scores (after regularisation), by rows.
    pub fn correlation(&self) -> &[Vec<f64>] {
        &self.spec.correlation
    }

    /// The hyperparameters the model was fitted with.
    pub fn params(&self) -> &GaussianCopulaParams {
        &self.spec.params
    }

    /// Number of rows of the table the model was fitted on.
    pub fn rows_fitted(&self) -> u64 {
        self.spec.rows_fitted
    }

    fn unconditional_plan(&self) -> Plan {
        let n = self.samplers.len();
        Plan {
            fixed: Vec::new(),
            slots: (0..n).map(Slot::Free).collect(),
            gain: Vec::new(),
            cholesky: self.cholesky.clone(),
        }
    }

    /// Check the conditions of a request and precompute the conditional normal.
    fn plan(&self, fixed: &[(String, FeatureValue)]) -> Result<Plan, FitError> {
        if fixed.is_empty() {
            return Ok(self.unconditional_plan());
        }
        let n = self.samplers.len();
        let mut category_of: Vec<Option<usize>> = vec![None; n];
        for (name, value) in fixed {
            let col = *self
                .index
                .get(name)
                .ok_or_else(|| FitError::InvalidCondition(format!("unknown column `{name}`")))?;
            let ColumnModel::Categorical { categories, .. } = &self.spec.models[col] else {
                return Err(FitError::InvalidCondition(format!(
                    "column `{name}` is numerical; only categorical columns can be fixed"
                )));
            };
            let FeatureValue::Cat(label) = value else {
                return Err(FitError::InvalidCondition(format!(
                    "column `{name}` is categorical, but the condition is the number {value}"
                )));
            };
            let cat = categories.iter().position(|c| c == label).ok_or_else(|| {
                FitError::InvalidCondition(format!(
                    "value `{label}` of column `{name}` never occurred in the training data"
                ))
            })?;
            if category_of[col].is_some_and(|c| c != cat) {
                return Err(FitError::InvalidCondition(format!(
                    "column `{name}` is fixed to two different values"
                )));
            }
            category_of[col] = Some(cat);
        }
        let mut fixed_cols = Vec::new();
        let mut free_cols = Vec::new();
        let mut slots = Vec::with_capacity(n);
        let mut plan_fixed = Vec::new();
        for (col, cat) in category_of.iter().enumerate() {
            match cat {
                Some(cat) => {
                    let Sampler::Category { ends, values, .. } = &self.samplers[col] else {
                        unreachable!("checked above: the column is categorical")
                    };
                    let low = if *cat == 0 { 0.0 } else { ends[cat - 1] };
                    slots.push(Slot::Fixed(plan_fixed.len()));
                    plan_fixed.push(FixedColumn {
                        low,
                        high: ends[*cat],
                        value: values[*cat].clone(),
                    });
                    fixed_cols.push(col);
                }
                None => {
                    slots.push(Slot::Free(free_cols.len()));
                    free_cols.push(col);
                }
            }
        }
        let (nb, na) = (fixed_cols.len(), free_cols.len());
        let corr = |i: usize, j: usize| self.correlation[i * n + j];
        let sigma_bb: Vec<f64> = fixed_cols
            .iter()
            .flat_map(|&i| fixed_cols.iter().map(move |&j| corr(i, j)))
            .collect();
        let chol_bb = robust_cholesky(&sigma_bb, nb);
        // x[a] = Σ_bb⁻¹ Σ_b,a for every free column a (each of length nb).
        let x: Vec<Vec<f64>> = free_cols
            .iter()
            .map(|&a| {
                let rhs: Vec<f64> = fixed_cols.iter().map(|&b| corr(b, a)).collect();
                cholesky_solve(&chol_bb, nb, &rhs)
            })
            .collect();
        // gain = Σ_ab Σ_bb⁻¹ (na × nb), i.e. row a is x[a].
        let gain: Vec<f64> = x.iter().flatten().copied().collect();
        let mut cond = vec![0.0; na * na];
        for (r, &a1) in free_cols.iter().enumerate() {
            for (c, &a2) in free_cols.iter().enumerate() {
                let explained: f64 = fixed_cols
                    .iter()
                    .zip(&x[c])
                    .map(|(&b, &xb)| corr(a1, b) * xb)
                    .sum();
                cond[r * na + c] = corr(a1, a2) - explained;
            }
        }
        for r in 0..na {
            for c in 0..r {
                let m = 0.5 * (cond[r * na + c] + cond[c * na + r]);
                cond[r * na + c] = m;
                cond[c * na + r] = m;
            }
        }
        Ok(Plan {
            fixed: plan_fixed,
            slots,
            gain,
            cholesky: robust_cholesky(&cond, na),
        })
    }

    fn sample_plan(&self, plan: &Plan, seed: u64, rows: std::ops::Range<u64>) -> Vec<StructureRow> {
        let start = rows.start;
        let len = usize::try_from(rows.end.saturating_sub(rows.start))
            .expect("the requested rows fit in memory");
        #[cfg(feature = "parallel")]
        if len >= PARALLEL_MIN_ROWS {
            use rayon::prelude::*;
            return (0..len)
                .into_par_iter()
                .map_init(
                    || plan.buffers(),
                    |buf, j| self.row(plan, seed, start + j as u64, buf),
                )
                .collect();
        }
        let mut buf = plan.buffers();
        (0..len)
            .map(|j| self.row(plan, seed, start + j as u64, &mut buf))
            .collect()
    }

    fn row(&self, plan: &Plan, seed: u64, i: u64, buf: &mut Buffers) -> StructureRow {
        let mut rng = rng::stream(seed, rng::SAMPLE, i);
        for (zb, f) in buf.zb.iter_mut().zip(&plan.fixed) {
            let u: f64 = rng.random();
            *zb = norm_ppf((f.low + (f.high - f.low) * u).clamp(EPSILON, 1.0 - EPSILON));
        }
        for e in buf.eps.iter_mut() {
            *e = rng.sample(StandardNormal);
        }
        let (na, nb) = (buf.eps.len(), buf.zb.len());
        for (r, za) in buf.za.iter_mut().enumerate() {
            let mean: f64 = plan.gain[r * nb..(r + 1) * nb]
                .iter()
                .zip(&buf.zb)
                .map(|(g, z)| g * z)
                .sum();
            let noise: f64 = plan.cholesky[r * na..r * na + r + 1]
                .iter()
                .zip(&buf.eps)
                .map(|(l, e)| l * e)
                .sum();
            *za = mean + noise;
        }
        StructureRow(
            plan.slots
                .iter()
                .zip(&self.samplers)
                .map(|(slot, sampler)| match *slot {
                    Slot::Fixed(k) => plan.fixed[k].value.clone(),
                    Slot::Free(r) => sampler.value(buf.za[r]),
                })
                .collect(),
        )
    }
}

/// A fixed column of a conditional request.
#[derive(Debug)]
struct FixedColumn {
    /// Its category's interval in [0, 1].
    low: f64,
    high: f64,
    /// The requested value.
    value: FeatureValue,
}

/// Where a column's cell comes from in a plan.
#[derive(Debug, Clone, Copy)]
enum Slot {
    /// The k-th fixed column.
    Fixed(usize),
    /// The r-th free column (index into the conditional normal).
    Free(usize),
}

/// The conditional normal of one request: free = gain · z_fixed + cholesky · ε.
#[derive(Debug)]
struct Plan {
    fixed: Vec<FixedColumn>,
    slots: Vec<Slot>,
    /// na × nb, row-major.
    gain: Vec<f64>,
    /// na × na lower triangle, row-major.
    cholesky: Vec<f64>,
}

impl Plan {
    fn buffers(&self) -> Buffers {
        let na = self.slots.len() - self.fixed.len();
        Buffers {
            zb: vec![0.0; self.fixed.len()],
            eps: vec![0.0; na],
            za: vec![0.0; na],
        }
    }
}

/// Per-thread scratch space for sampling rows.
struct Buffers {
    zb: Vec<f64>,
    eps: Vec<f64>,
    za: Vec<f64>,
}

impl FittedSynthesizer for FittedGaussianCopula {
    fn columns(&self) -> &[ColumnMeta] {
        &self.spec.columns
    }

    fn sample(&self, request: &SampleRequest) -> Result<Vec<StructureRow>, FitError> {
        let plan = self.plan(&request.fixed)?;
        Ok(self.sample_plan(&plan, request.seed, request.rows.clone()))
    }

    /// Write [`MODEL_FILE`] in `dir` (created if needed), through a temporary file renamed
    /// into place.
    fn describe(&self) -> Vec<(String, String)> {
        self.marginals()
    }

    fn save(&self, dir: &Path) -> Result<(), FitError> {
        let path = dir.join(MODEL_FILE);
        let model_error = |message: String| FitError::Model {
            path: path.display().to_string(),
            message,
        };
        fs::create_dir_all(dir).map_err(|e| model_error(e.to_string()))?;
        let json = serde_json::to_vec_pretty(&self.spec).map_err(|e| model_error(e.to_string()))?;
        let tmp = dir.join(format!(".{MODEL_FILE}.{}.tmp", std::process::id()));
        let written = fs::File::create(&tmp).and_then(|mut f| {
            f.write_all(&json)?;
            f.write_all(b"\n")?;
            f.sync_all()
        });
        if let Err(e) = written.and_then(|()| fs::rename(&tmp, &path)) {
            let _ = fs::remove_file(&tmp);
            return Err(model_error(e.to_string()));
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------
// Fitting.
// ---------------------------------------------------------------------------------------

impl Synthesizer for GaussianCopula {
    type Fitted = FittedGaussianCopula;

    fn fit(&self, table: &FeatureTable) -> Result<FittedGaussianCopula, FitError> {
        if table.rows.is_empty() {
            return Err(FitError::Empty);
        }
        let table_error = |reason: String| FitError::InvalidParameter {
            name: "table",
            reason,
        };
        let n_cols = table.columns.len();
        for (i, meta) in table.columns.iter().enumerate() {
            if table.columns[..i].iter().any(|m| m.name == meta.name) {
                return Err(table_error(format!("column `{}` appears twice", meta.name)));
            }
        }
        for name in self.params.numerical_distributions.keys() {
            match table.columns.iter().find(|m| &m.name == name) {
                Some(ColumnMeta {
                    kind: ColumnKind::Numerical { .. },
                    ..
                }) => {}
                Some(_) => {
                    return Err(FitError::InvalidParameter {
                        name: "numerical_distributions",
                        reason: format!("column `{name}` is categorical"),
                    })
                }
                None => {
                    return Err(FitError::InvalidParameter {
                        name: "numerical_distributions",
                        reason: format!("the table has no column `{name}`"),
                    })
                }
            }
        }
        for (r, row) in table.rows.iter().enumerate() {
            if row.0.len() != n_cols {
                return Err(table_error(format!(
                    "row {r} has {} values for {n_cols} columns",
                    row.0.len()
                )));
            }
        }

        let n_rows = table.rows.len();
        let mut jitter = rng::stream(self.params.fit_seed, rng::FIT, 0);
        let mut models = Vec::with_capacity(n_cols);
        // Normal scores per column; `None` for a constant column.
        let mut latent: Vec<Option<Vec<f64>>> = Vec::with_capacity(n_cols);
        for (j, meta) in table.columns.iter().enumerate() {
            match &meta.kind {
                ColumnKind::Numerical { min, max } => {
                    let mut ints = Vec::with_capacity(n_rows);
                    for (r, row) in table.rows.iter().enumerate() {
                        match &row.0[j] {
                            FeatureValue::Int(v) => ints.push(*v),
                            FeatureValue::Cat(c) => {
                                return Err(table_error(format!(
                                    "row {r}, column `{}`: expected an integer, found `{c}`",
                                    meta.name
                                )))
                            }
                        }
                    }
                    let (obs_min, obs_max) = (
                        *ints.iter().min().expect("rows are not empty"),
                        *ints.iter().max().expect("rows are not empty"),
                    );
                    let (lo, hi) = if self.params.enforce_min_max {
                        (obs_min, obs_max)
                    } else {
                        ((*min).min(obs_min), (*max).max(obs_max))
                    };
                    let xs: Vec<f64> = ints.iter().map(|&v| v as f64).collect();
                    let candidates = match self.params.numerical_distributions.get(&meta.name) {
                        Some(m) => std::slice::from_ref(m),
                        None => &self.params.candidates[..],
                    };
                    let (marginal, selection) = select_marginal(&xs, candidates);
                    latent.push(match marginal {
                        FittedMarginal::Constant { .. } => None,
                        _ => Some(integer_normal_scores(&marginal, lo, hi, &ints)),
                    });
                    models.push(ColumnModel::Numerical {
                        marginal,
                        min: lo,
                        max: hi,
                        selection,
                    });
                }
                ColumnKind::Categorical { .. } => {
                    let mut categories: Vec<String> = Vec::new();
                    let mut counts: Vec<u64> = Vec::new();
                    let mut position: HashMap<&str, usize> = HashMap::new();
                    let mut codes = Vec::with_capacity(n_rows);
                    for (r, row) in table.rows.iter().enumerate() {
                        let FeatureValue::Cat(c) = &row.0[j] else {
                            return Err(table_error(format!(
                                "row {r}, column `{}`: expected a category, found {}",
                                meta.name, row.0[j]
                            )));
                        };
                        let k = *position.entry(c.as_str()).or_insert_with(|| {
                            categories.push(c.clone());
                            counts.push(0);
                            categories.len() - 1
                        });
                        counts[k] += 1;
                        codes.push(k);
                    }
                    let ends = interval_ends(&counts);
                    let low = |k: usize| if k == 0 { 0.0 } else { ends[k - 1] };
                    let scores: Vec<f64> = if self.params.categorical_jitter {
                        codes
                            .iter()
                            .map(|&k| {
                                let u: f64 = jitter.random();
                                let u = low(k) + (ends[k] - low(k)) * u;
                                norm_ppf(u.clamp(EPSILON, 1.0 - EPSILON))
                            })
                            .collect()
                    } else {
                        let means: Vec<f64> = (0..counts.len())
                            .map(|k| truncated_normal_mean(norm_ppf(low(k)), norm_ppf(ends[k])))
                            .collect();
                        codes.iter().map(|&k| means[k]).collect()
                    };
                    latent.push(Some(scores));
                    models.push(ColumnModel::Categorical { categories, counts });
                }
            }
        }

        let mut correlation = pearson(&latent, n_rows);
        regularize_correlation(&mut correlation, n_cols);
        let spec = ModelSpec {
            format: FORMAT.into(),
            version: VERSION,
            params: self.params.clone(),
            rows_fitted: n_rows as u64,
            columns: table.columns.clone(),
            models,
            correlation: (0..n_cols)
                .map(|i| correlation[i * n_cols..(i + 1) * n_cols].to_vec())
                .collect(),
        };
        FittedGaussianCopula::from_spec(spec).map_err(table_error)
    }
}

/// Normal scores of integer values: the mean of `Z ~ N(0, 1)` over the cell of `z` values
/// that sampling turns into that integer, `[Φ⁻¹(F(k − ½)), Φ⁻¹(F(k + ½)))`, with the cells
/// of the clip bounds `lo` and `hi` extended to `∓∞`.
fn integer_normal_scores(marginal: &FittedMarginal, lo: i64, hi: i64, values: &[i64]) -> Vec<f64> {
    let threshold = |k: Option<i64>| match k {
        Some(k) if k >= lo && k < hi => marginal.normal_score_threshold(k as f64 + 0.5),
        Some(k) if k >= hi => f64::INFINITY,
        _ => f64::NEG_INFINITY,
    };
    let mut cache: HashMap<i64, f64> = HashMap::new();
    values
        .iter()
        .map(|&v| {
            *cache.entry(v).or_insert_with(|| {
                let z = truncated_normal_mean(threshold(v.checked_sub(1)), threshold(Some(v)));
                if z.is_nan() {
                    0.0
                } else {
                    z
                }
            })
        })
        .collect()
}

/// Mean of a standard normal truncated to `[a, b]`, stable in both tails.
fn truncated_normal_mean(a: f64, b: f64) -> f64 {
    let pdf = |z: f64| {
        if z.is_infinite() {
            0.0
        } else {
            (-0.5 * z * z).exp() / (2.0 * std::f64::consts::PI).sqrt()
        }
    };
    if a >= b || a.is_nan() || b.is_nan() {
        return a;
    }
    let mass = if a > 0.0 {
        norm_sf(a) - norm_sf(b)
    } else {
        norm_cdf(b) - norm_cdf(a)
    };
    let mean = (pdf(a) - pdf(b)) / mass;
    if mass > 0.0 && mean.is_finite() {
        mean.clamp(a, b)
    } else if a.is_finite() && b.is_finite() {
        0.5 * (a + b)
    } else if a.is_finite() {
        a
    } else if b.is_finite() {
        b
    } else {
        0.0
    }
}

/// Observations `≤ x` and all observations of an empirical distribution.
fn empirical_counts(values: &[f64], counts: &[u64], x: f64) -> (u64, u64) {
    let k = values.partition_point(|&v| v <= x);
    (counts[..k].iter().sum(), counts.iter().sum())
}

/// Upper ends of the categories' intervals: cumulative frequencies, the last exactly 1.
fn interval_ends(counts: &[u64]) -> Vec<f64> {
    let total: u64 = counts.iter().sum();
    let mut cum = 0;
    let mut ends: Vec<f64> = counts
        .iter()
        .map(|&c| {
            cum += c;
            cum as f64 / total as f64
        })
        .collect();
    if let Some(last) = ends.last_mut() {
        *last = 1.0;
    }
    ends
}

/// Round to the nearest integer and clip to `[lo, hi]`.
fn clip_round(x: f64, lo: i64, hi: i64) -> i64 {
    let r = x.round();
    if r.is_nan() || r <= lo as f64 {
        lo
    } else if r >= hi as f64 {
        hi
    } else {
        r as i64
    }
}

/// A numerical column prepared for fitting: distinct values with their counts, and moments.
struct ColumnData {
    /// Distinct values, ascending, with their counts.
    distinct: Vec<(f64, f64)>,
    n: f64,
    mean: f64,
    /// Population standard deviation.
    std: f64,
    min: f64,
    max: f64,
    /// Smallest gap between successive distinct values.
    gap: f64,
}

impl ColumnData {
    fn new(xs: &[f64]) -> ColumnData {
        let mut sorted = xs.to_vec();
        sorted.sort_by(f64::total_cmp);
        let mut distinct: Vec<(f64, f64)> = Vec::new();
        for x in sorted {
            match distinct.last_mut() {
                Some((v, c)) if *v == x => *c += 1.0,
                _ => distinct.push((x, 1.0)),
            }
        }
        let n = xs.len() as f64;
        let mean = distinct.iter().map(|(v, c)| v * c).sum::<f64>() / n;
        let var = distinct
            .iter()
            .map(|(v, c)| c * (v - mean).powi(2))
            .sum::<f64>()
            / n;
        let gap = distinct
            .windows(2)
            .map(|w| w[1].0 - w[0].0)
            .fold(f64::INFINITY, f64::min);
        ColumnData {
            n,
            mean,
            std: var.sqrt(),
            min: distinct[0].0,
            max: distinct[distinct.len() - 1].0,
            gap,
            distinct,
        }
    }
}

/// Fit every candidate and keep the one with the smallest KS statistic.
fn select_marginal(xs: &[f64], candidates: &[Marginal]) -> (FittedMarginal, Vec<CandidateScore>) {
    let data = ColumnData::new(xs);
    if data.distinct.len() == 1 {
        return (FittedMarginal::Constant { value: data.min }, Vec::new());
    }
    let mut best: Option<(f64, FittedMarginal)> = None;
    let mut selection = Vec::with_capacity(candidates.len());
    for &family in candidates {
        let fitted = family.fit(&data);
        let ks = fitted
            .as_ref()
            .map(|m| ks_statistic(&data, m))
            .filter(|d| d.is_finite());
        selection.push(CandidateScore {
            marginal: family,
            ks,
        });
        if let (Some(d), Some(m)) = (ks, fitted) {
            if best.as_ref().is_none_or(|(b, _)| d < *b) {
                best = Some((d, m));
            }
        }
    }
    let marginal = best.map(|(_, m)| m).unwrap_or(FittedMarginal::Normal {
        loc: data.mean,
        scale: data.std,
    });
    (marginal, selection)
}

/// The one-sample Kolmogorov–Smirnov statistic (as `scipy.stats.kstest`).
fn ks_statistic(data: &ColumnData, m: &FittedMarginal) -> f64 {
    let mut seen = 0.0;
    let mut d: f64 = 0.0;
    for &(v, c) in &data.distinct {
        let f = m.cdf(v);
        if f.is_nan() {
            return f64::NAN;
        }
        d = d.max((seen + c) / data.n - f).max(f - seen / data.n);
        seen += c;
    }
    d
}

/// Beta on `[min, max]` with shapes by the method of moments.
fn fit_beta(data: &ColumnData) -> Option<FittedMarginal> {
    let scale = data.max - data.min;
    let m = (data.mean - data.min) / scale;
    let v = (data.std / scale).powi(2);
    let common = m * (1.0 - m) / v - 1.0;
    if !(common > 0.0 && common.is_finite()) {
        return None;
    }
    Some(FittedMarginal::Beta {
        a: m * common,
        b: (1.0 - m) * common,
        loc: data.min,
        scale,
    })
}

/// Gamma by maximum likelihood with `loc ≤ min − gap/2` (see the module documentation).
fn fit_gamma(data: &ColumnData) -> Option<FittedMarginal> {
    let top = data.min - 0.5 * data.gap;
    let span = 20.0 * data.std;
    let eval = |t: f64| gamma_profile(data, top - t);
    // Grid over the distance below `top`, denser near it, then golden-section refinement.
    const GRID: usize = 40;
    let points: Vec<f64> = (0..=GRID)
        .map(|k| span * (k as f64 / GRID as f64).powi(2))
        .collect();
    let mut best: Option<(f64, (f64, f64, f64))> = None;
    let mut best_k = 0;
    for (k, &t) in points.iter().enumerate() {
        if let Some(p) = eval(t) {
            if best.is_none_or(|(_, b)| p.2 > b.2) {
                best = Some((t, p));
                best_k = k;
            }
        }
    }
    let (mut t_best, mut p_best) = best?;
    let (mut lo, mut hi) = (
        points[best_k.saturating_sub(1)],
        points[(best_k + 1).min(GRID)],
    );
    let ll = |t: f64| eval(t).map_or(f64::NEG_INFINITY, |p| p.2);
    let phi = 0.5 * (5f64.sqrt() - 1.0);
    let (mut x1, mut x2) = (hi - phi * (hi - lo), lo + phi * (hi - lo));
    let (mut f1, mut f2) = (ll(x1), ll(x2));
    for _ in 0..80 {
        if hi - lo <= 1e-12 * (1.0 + span) {
            break;
        }
        if f1 >= f2 {
            hi = x2;
            x2 = x1;
            f2 = f1;
            x1 = hi - phi * (hi - lo);
            f1 = ll(x1);
        } else {
            lo = x1;
            x1 = x2;
            f1 = f2;
            x2 = lo + phi * (hi - lo);
            f2 = ll(x2);
        }
    }
    let t = 0.5 * (lo + hi);
    if let Some(p) = eval(t) {
        if p.2 > p_best.2 {
            t_best = t;
            p_best = p;
        }
    }
    let (a, scale, _) = p_best;
    Some(FittedMarginal::Gamma {
        a,
        loc: top - t_best,
        scale,
    })
}

/// Maximum-likelihood shape and scale of a gamma with location `loc`, and the mean
/// log-likelihood there.
fn gamma_profile(data: &ColumnData, loc: f64) -> Option<(f64, f64, f64)> {
    let (mut sum, mut sum_ln) = (0.0, 0.0);
    for &(v, c) in &data.distinct {
        let y = v - loc;
        if y <= 0.0 {
            return None;
        }
        sum += c * y;
        sum_ln += c * y.ln();
    }
    let mean = sum / data.n;
    let mean_ln = sum_ln / data.n;
    let s = mean.ln() - mean_ln;
    if !(s > 0.0 && s.is_finite()) {
        return None;
    }
    let a = solve_gamma_shape(s)?;
    if a > GAMMA_MAX_SHAPE {
        return None;
    }
    let scale = mean / a;
    let ll = (a - 1.0) * mean_ln - a - ln_gamma(a) - a * scale.ln();
    ll.is_finite().then_some((a, scale, ll))
}

/// Solve `ln a − ψ(a) = s` (decreasing in `a`) by bisection in `ln a`.
fn solve_gamma_shape(s: f64) -> Option<f64> {
    let g = |a: f64| a.ln() - digamma(a) - s;
    // Minka's approximation as the starting bracket.
    let a0 = (3.0 - s + ((s - 3.0).powi(2) + 24.0 * s).sqrt()) / (12.0 * s);
    let (mut lo, mut hi) = (a0 * 0.5, a0 * 2.0);
    for _ in 0..100 {
        if g(lo) >= 0.0 {
            break;
        }
        lo *= 0.5;
    }
    for _ in 0..100 {
        if g(hi) <= 0.0 {
            break;
        }
        hi *= 2.0;
    }
    if !(g(lo) >= 0.0 && g(hi) <= 0.0) {
        return None;
    }
    for _ in 0..200 {
        let mid = (lo * hi).sqrt();
        if g(mid) > 0.0 {
            lo = mid;
        } else {
            hi = mid;
        }
        if hi / lo - 1.0 < 1e-14 {
            break;
        }
    }
    let a = (lo * hi).sqrt();
    (a.is_finite() && a > 0.0).then_some(a)
}

/// Truncated normal on `[min − ε, max + ε]` with `loc`, `scale` by maximum likelihood.
fn fit_truncated_normal(data: &ColumnData) -> Option<FittedMarginal> {
    let pad = |x: f64| EPSILON * x.abs().max(1.0);
    let (lower, upper) = (data.min - pad(data.min), data.max + pad(data.max));
    let ln_max_scale = 2.0 * (upper - lower).ln();
    let nnlf = |p: [f64; 2]| -> f64 {
        let (loc, ln_scale) = (p[0], p[1]);
        if !(lower..=upper).contains(&loc) || ln_scale > ln_max_scale || ln_scale.is_nan() {
            return f64::INFINITY;
        }
        let scale = ln_scale.exp();
        let mass = norm_cdf((upper - loc) / scale) - norm_cdf((lower - loc) / scale);
        if !(scale > 0.0 && mass > 0.0) {
            return f64::INFINITY;
        }
        let sq: f64 = data
            .distinct
            .iter()
            .map(|&(v, c)| c * ((v - loc) / scale).powi(2))
            .sum();
        0.5 * sq + data.n * (ln_scale + mass.ln())
    };
    let start = [data.mean, data.std.ln().min(ln_max_scale - 0.01)];
    let (best, value) = nelder_mead(nnlf, start, [0.5 * data.std, 0.5], 2000);
    if !value.is_finite() {
        return None;
    }
    Some(FittedMarginal::TruncatedNormal {
        lower,
        upper,
        loc: best[0],
        scale: best[1].exp(),
    })
}

/// Minimise `f` over two variables with the Nelder–Mead simplex method.
fn nelder_mead(
    f: impl Fn([f64; 2]) -> f64,
    start: [f64; 2],
    step: [f64; 2],
    max_iter: usize,
) -> ([f64; 2], f64) {
    let lerp =
        |a: [f64; 2], b: [f64; 2], t: f64| [a[0] + t * (b[0] - a[0]), a[1] + t * (b[1] - a[1])];
    let mut pts = [
        start,
        [start[0] + step[0], start[1]],
        [start[0], start[1] + step[1]],
    ];
    let mut vals = pts.map(&f);
    for _ in 0..max_iter {
        let mut order = [0, 1, 2];
        order.sort_by(|&i, &j| vals[i].total_cmp(&vals[j]));
        let [b, m, w] = order;
        let size = (0..3)
            .map(|i| {
                (pts[i][0] - pts[b][0])
                    .abs()
                    .max((pts[i][1] - pts[b][1]).abs())
            })
            .fold(0.0, f64::max);
        let scale = 1.0 + pts[b][0].abs().max(pts[b][1].abs());
        if size <= 1e-12 * scale
            || (vals[w] - vals[b]).abs() <= 1e-13 * (1.0 + vals[b].abs()) && size <= 1e-8 * scale
        {
            break;
        }
        let centroid = lerp(pts[b], pts[m], 0.5);
        let reflected = lerp(centroid, pts[w], -1.0);
        let fr = f(reflected);
        if fr < vals[b] {
            let expanded = lerp(centroid, pts[w], -2.0);
            let fe = f(expanded);
            (pts[w], vals[w]) = if fe < fr {
                (expanded, fe)
            } else {
                (reflected, fr)
            };
        } else if fr < vals[m] {
            (pts[w], vals[w]) = (reflected, fr);
        } else {
            let contracted = if fr < vals[w] {
                lerp(centroid, reflected, 0.5)
            } else {
                lerp(centroid, pts[w], 0.5)
            };
            let fc = f(contracted);
            if fc < fr.min(vals[w]) {
                (pts[w], vals[w]) = (contracted, fc);
            } else {
                for i in [m, w] {
                    pts[i] = lerp(pts[b], pts[i], 0.5);
                    vals[i] = f(pts[i]);
                }
            }
        }
    }
    let b = (0..3)
        .min_by(|&i, &j| vals[i].total_cmp(&vals[j]))
        .expect("three points");
    (pts[b], vals[b])
}

// ---------------------------------------------------------------------------------------
// Normal distribution and linear algebra.
// ---------------------------------------------------------------------------------------

fn norm_cdf(z: f64) -> f64 {
    0.5 * erfc(-z / std::f64::consts::SQRT_2)
}

fn norm_sf(z: f64) -> f64 {
    0.5 * erfc(z / std::f64::consts::SQRT_2)
}

/// `Φ⁻¹(p)`: `−∞` at 0, `+∞` at 1.
fn norm_ppf(p: f64) -> f64 {
    -std::f64::consts::SQRT_2 * erfc_inv(2.0 * p)
}

/// Pearson correlation of the latent columns (row-major n × n); a constant column
/// (`None`, or zero variance) is uncorrelated with the others.
fn pearson(latent: &[Option<Vec<f64>>], n_rows: usize) -> Vec<f64> {
    let n = latent.len();
    let centred: Vec<Option<Vec<f64>>> = latent
        .iter()
        .map(|col| {
            let col = col.as_ref()?;
            let mean = col.iter().sum::<f64>() / n_rows as f64;
            let c: Vec<f64> = col.iter().map(|x| x - mean).collect();
            let ss: f64 = c.iter().map(|x| x * x).sum();
            (ss > 1e-300).then(|| {
                let norm = ss.sqrt();
                c.into_iter().map(|x| x / norm).collect()
            })
        })
        .collect();
    let mut corr = vec![0.0; n * n];
    for i in 0..n {
        corr[i * n + i] = 1.0;
        for j in 0..i {
            if let (Some(a), Some(b)) = (&centred[i], &centred[j]) {
                let r: f64 = a.iter().zip(b).map(|(x, y)| x * y).sum();
                let r = if r.is_finite() {
                    r.clamp(-1.0, 1.0)
                } else {
                    0.0
                };
                corr[i * n + j] = r;
                corr[j * n + i] = r;
            }
        }
    }
    corr
}

/// Raise eigenvalues below [`EIGEN_FLOOR`] and rescale to a unit diagonal.
fn regularize_correlation(corr: &mut [f64], n: usize) {
    let (values, vectors) = symmetric_eigen(corr, n);
    if values.iter().all(|&l| l >= EIGEN_FLOOR) {
        return;
    }
    let values: Vec<f64> = values.iter().map(|&l| l.max(EIGEN_FLOOR)).collect();
    for i in 0..n {
        for j in 0..n {
            corr[i * n + j] = (0..n)
                .map(|k| vectors[i * n + k] * values[k] * vectors[j * n + k])
                .sum();
        }
    }
    let diag: Vec<f64> = (0..n).map(|i| corr[i * n + i].sqrt()).collect();
    for i in 0..n {
        for j in 0..n {
            corr[i * n + j] = if i == j {
                1.0
            } else {
                corr[i * n + j] / (diag[i] * diag[j])
            };
        }
    }
    // Exact symmetry.
    for i in 0..n {
        for j in 0..i {
            corr[j * n + i] = corr[i * n + j];
        }
    }
}

/// Eigenvalues and eigenvectors (columns of the row-major matrix) of a symmetric matrix,
/// by cyclic Jacobi rotations.
fn symmetric_eigen(a: &[f64], n: usize) -> (Vec<f64>, Vec<f64>) {
    let mut m = a.to_vec();
    let mut v = vec![0.0; n * n];
    for i in 0..n {
        v[i * n + i] = 1.0;
    }
    let total: f64 = m.iter().map(|x| x * x).sum();
    for _sweep in 0..100 {
        let off: f64 = (0..n)
            .flat_map(|i| (0..n).filter(move |&j| j != i).map(move |j| (i, j)))
            .map(|(i, j)| m[i * n + j].powi(2))
            .sum();
        if off <= 1e-30 * total.max(1e-300) {
            break;
        }
        for p in 0..n {
            for q in p + 1..n {
                let apq = m[p * n + q];
                if apq == 0.0 {
                    continue;
                }
                let theta = (m[q * n + q] - m[p * n + p]) / (2.0 * apq);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                for k in 0..n {
                    let (mkp, mkq) = (m[k * n + p], m[k * n + q]);
                    m[k * n + p] = c * mkp - s * mkq;
                    m[k * n + q] = s * mkp + c * mkq;
                }
                for k in 0..n {
                    let (mpk, mqk) = (m[p * n + k], m[q * n + k]);
                    m[p * n + k] = c * mpk - s * mqk;
                    m[q * n + k] = s * mpk + c * mqk;
                }
                for k in 0..n {
                    let (vkp, vkq) = (v[k * n + p], v[k * n + q]);
                    v[k * n + p] = c * vkp - s * vkq;
                    v[k * n + q] = s * vkp + c * vkq;
                }
            }
        }
    }
    ((0..n).map(|i| m[i * n + i]).collect(), v)
}

/// Cholesky factor (row-major lower triangle) of a symmetric positive-definite matrix.
fn cholesky(a: &[f64], n: usize) -> Option<Vec<f64>> {
    let mut l = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..=i {
            let s = a[i * n + j] - (0..j).map(|k| l[i * n + k] * l[j * n + k]).sum::<f64>();
            if i == j {
                if !(s > 0.0 && s.is_finite()) {
                    return None;
                }
                l[i * n + i] = s.sqrt();
            } else {
                l[i * n + j] = s / l[j * n + j];
            }
        }
    }
    Some(l)
}

/// Cholesky factor, adding a growing ridge to the diagonal until it exists (a covariance
/// that is positive semi-definite up to rounding gets the smallest ridge that works).
fn robust_cholesky(a: &[f64], n: usize) -> Vec<f64> {
    if let Some(l) = cholesky(a, n) {
        return l;
    }
    let mut ridge = 1e-12;
    while ridge <= 1.0 {
        let mut b = a.to_vec();
        for i in 0..n {
            b[i * n + i] += ridge;
        }
        if let Some(l) = cholesky(&b, n) {
            return l;
        }
        ridge *= 10.0;
    }
    // Not even close to positive definite: fall back to independent unit variances.
    let mut l = vec![0.0; n * n];
    for i in 0..n {
        l[i * n + i] = 1.0;
    }
    l
}

/// Solve `L Lᵀ x = b` given the Cholesky factor `L`.
fn cholesky_solve(l: &[f64], n: usize, b: &[f64]) -> Vec<f64> {
    let mut y = vec![0.0; n];
    for i in 0..n {
        let s: f64 = (0..i).map(|k| l[i * n + k] * y[k]).sum();
        y[i] = (b[i] - s) / l[i * n + i];
    }
    let mut x = vec![0.0; n];
    for i in (0..n).rev() {
        let s: f64 = (i + 1..n).map(|k| l[k * n + i] * x[k]).sum();
        x[i] = (y[i] - s) / l[i * n + i];
    }
    x
}

// ---------------------------------------------------------------------------------------
// Exact float serialization.
// ---------------------------------------------------------------------------------------

/// An `f64` as a string in Rust's shortest round-trip notation.
mod exact {
    use serde::de::Error;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!("{v:?}"))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        let s = String::deserialize(d)?;
        s.parse()
            .map_err(|_| D::Error::custom(format!("invalid number `{s}`")))
    }
}

/// A vector of `f64` as strings (see [`exact`]).
mod exact_vec {
    use serde::de::Error;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(v: &[f64], s: S) -> Result<S::Ok, S::Error> {
        let strings: Vec<String> = v.iter().map(|x| format!("{x:?}")).collect();
        strings.serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<f64>, D::Error> {
        Vec::<String>::deserialize(d)?
            .into_iter()
            .map(|s| {
                s.parse()
                    .map_err(|_| D::Error::custom(format!("invalid number `{s}`")))
            })
            .collect()
    }
}

/// A matrix of `f64` as rows of strings (see [`exact`]).
mod exact_matrix {
    use serde::de::Error;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(m: &[Vec<f64>], s: S) -> Result<S::Ok, S::Error> {
        let rows: Vec<Vec<String>> = m
            .iter()
            .map(|r| r.iter().map(|v| format!("{v:?}")).collect())
            .collect();
        rows.serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Vec<f64>>, D::Error> {
        let rows = Vec::<Vec<String>>::deserialize(d)?;
        rows.into_iter()
            .map(|r| {
                r.into_iter()
                    .map(|s| {
                        s.parse()
                            .map_err(|_| D::Error::custom(format!("invalid number `{s}`")))
                    })
                    .collect()
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn num(name: &str, min: i64, max: i64) -> ColumnMeta {
        ColumnMeta {
            name: name.into(),
            kind: ColumnKind::Numerical { min, max },
        }
    }

    fn cat(name: &str, categories: &[&str]) -> ColumnMeta {
        ColumnMeta {
            name: name.into(),
            kind: ColumnKind::Categorical {
                categories: categories.iter().map(|c| c.to_string()).collect(),
            },
        }
    }

    fn int(v: &FeatureValue) -> i64 {
        match v {
            FeatureValue::Int(i) => *i,
            FeatureValue::Cat(c) => panic!("expected an integer, got {c}"),
        }
    }

    fn label(v: &FeatureValue) -> &str {
        match v {
            FeatureValue::Cat(c) => c,
            FeatureValue::Int(i) => panic!("expected a category, got {i}"),
        }
    }

    fn fit(table: &FeatureTable) -> FittedGaussianCopula {
        GaussianCopula::new(GaussianCopulaParams::default())
            .unwrap()
            .fit(table)
            .unwrap()
    }

    fn ranks(xs: &[f64]) -> Vec<f64> {
        let mut idx: Vec<usize> = (0..xs.len()).collect();
        idx.sort_by(|&a, &b| xs[a].total_cmp(&xs[b]));
        let mut r = vec![0.0; xs.len()];
        let mut i = 0;
        while i < idx.len() {
            let mut j = i;
            while j + 1 < idx.len() && xs[idx[j + 1]] == xs[idx[i]] {
                j += 1;
            }
            for &k in &idx[i..=j] {
                r[k] = (i + j) as f64 / 2.0;
            }
            i = j + 1;
        }
        r
    }

    fn spearman(xs: &[f64], ys: &[f64]) -> f64 {
        let (rx, ry) = (ranks(xs), ranks(ys));
        let n = xs.len() as f64;
        let (mx, my) = (rx.iter().sum::<f64>() / n, ry.iter().sum::<f64>() / n);
        let cov: f64 = rx.iter().zip(&ry).map(|(a, b)| (a - mx) * (b - my)).sum();
        let vx: f64 = rx.iter().map(|a| (a - mx).powi(2)).sum();
        let vy: f64 = ry.iter().map(|b| (b - my).powi(2)).sum();
        cov / (vx * vy).sqrt()
    }

    fn column(rows: &[StructureRow], j: usize) -> Vec<f64> {
        rows.iter().map(|r| int(&r.0[j]) as f64).collect()
    }

    /// x uniform in 0..=40, y ≈ x with noise, kind = "large" when x > 20 (mostly).
    fn correlated_table(n: usize) -> FeatureTable {
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let rows = (0..n)
            .map(|_| {
                let x: i64 = rng.random_range(0..=40);
                let y = (x + rng.random_range(-4..=4)).clamp(0, 40);
                let large = if rng.random::<f64>() < 0.9 {
                    x > 20
                } else {
                    x <= 20
                };
                let kind = if large { "large" } else { "small" };
                StructureRow(vec![
                    FeatureValue::Int(x),
                    FeatureValue::Int(y),
                    FeatureValue::Cat(kind.into()),
                ])
            })
            .collect();
        FeatureTable {
            columns: vec![
                num("x", 0, 50),
                num("y", 0, 50),
                cat("kind", &["small", "large", "never"]),
            ],
            rows,
        }
    }

    #[test]
    fn ks_statistic_matches_hand_computation() {
        let data = ColumnData::new(&[1.0, 2.0, 3.0]);
        let m = FittedMarginal::Uniform {
            loc: 0.0,
            scale: 4.0,
        };
        assert!((ks_statistic(&data, &m) - 0.25).abs() < 1e-12);
        // Ties: two values at 1 make the jump at 1 two thirds.
        let data = ColumnData::new(&[1.0, 1.0, 3.0]);
        assert!((ks_statistic(&data, &m) - (2.0 / 3.0 - 0.25)).abs() < 1e-12);
    }

    #[test]
    fn selects_gamma_for_gamma_data() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let gamma = rand_distr::Gamma::new(2.0, 20.0).unwrap();
        let xs: Vec<f64> = (0..4000)
            .map(|_| rng.sample::<f64, _>(gamma).round())
            .collect();
        let (m, selection) = select_marginal(&xs, &Marginal::PARAMETRIC);
        assert_eq!(m.family(), "gamma", "{m} from {selection:?}");
        let FittedMarginal::Gamma { a, scale, .. } = m else {
            unreachable!()
        };
        assert!((1.6..2.5).contains(&a), "shape {a}");
        assert!((15.0..25.0).contains(&scale), "scale {scale}");
        assert_eq!(selection.len(), 5);
    }

    /// Largest gap between a marginal's CDF and a reference CDF on a grid.
    fn cdf_distance(m: &FittedMarginal, reference: impl Fn(f64) -> f64, lo: f64, hi: f64) -> f64 {
        (0..=200)
            .map(|i| lo + (hi - lo) * i as f64 / 200.0)
            .map(|x| (m.cdf(x) - reference(x)).abs())
            .fold(0.0, f64::max)
    }

    #[test]
    fn selects_a_flat_marginal_for_uniform_data() {
        let mut rng = ChaCha8Rng::seed_from_u64(4);
        let xs: Vec<f64> = (0..4000)
            .map(|_| rng.random_range(0..=200) as f64)
            .collect();
        // On discrete data a beta with a ≈ b ≈ 1 can edge out the exact uniform on KS;
        // whichever wins must be flat.
        let (m, selection) = select_marginal(&xs, &Marginal::PARAMETRIC);
        assert!(
            matches!(m.family(), "uniform" | "beta" | "truncnorm"),
            "{m} from {selection:?}"
        );
        let d = cdf_distance(&m, |x| (x / 200.0).clamp(0.0, 1.0), -10.0, 210.0);
        assert!(d < 0.02, "{m}: {d}");
        // Among families that cannot be flat, the uniform wins.
        let (m, selection) =
            select_marginal(&xs, &[Marginal::Normal, Marginal::Gamma, Marginal::Uniform]);
        assert_eq!(m.family(), "uniform", "{m} from {selection:?}");
    }

    #[test]
    fn selects_a_bell_shaped_marginal_for_normal_data() {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let xs: Vec<f64> = (0..4000)
            .map(|_| (100.0 + 15.0 * rng.sample::<f64, _>(StandardNormal)).round())
            .collect();
        // A gamma with a large shape is a normal too; check the shape, not the name.
        let (m, selection) = select_marginal(&xs, &Marginal::PARAMETRIC);
        let d = cdf_distance(&m, |x| norm_cdf((x - 100.0) / 15.0), 40.0, 160.0);
        assert!(d < 0.03, "{m} from {selection:?}: {d}");
        assert!(m.family() != "uniform", "{m}");
        let (m, _) = select_marginal(&xs, &[Marginal::Uniform, Marginal::Normal]);
        assert_eq!(m.family(), "norm", "{m}");
    }

    #[test]
    fn category_frequencies_are_reproduced_and_unseen_categories_never_sampled() {
        let rows = (0..1000)
            .map(|i| {
                let c = match i % 10 {
                    0..=4 => "A",
                    5..=7 => "B",
                    _ => "C",
                };
                StructureRow(vec![FeatureValue::Cat(c.into()), FeatureValue::Int(i % 7)])
            })
            .collect();
        let table = FeatureTable {
            columns: vec![cat("c", &["D", "C", "B", "A"]), num("n", 0, 10)],
            rows,
        };
        let model = fit(&table);
        let ColumnModel::Categorical { categories, counts } = &model.column_models()[0] else {
            panic!("categorical model expected")
        };
        assert_eq!(categories, &["A", "B", "C"], "order of first appearance");
        assert_eq!(counts, &[500, 300, 200]);
        let rows = model.sample_n(20_000, 9);
        let share = |c: &str| {
            rows.iter().filter(|r| label(&r.0[0]) == c).count() as f64 / rows.len() as f64
        };
        assert!((share("A") - 0.5).abs() < 0.015, "A {}", share("A"));
        assert!((share("B") - 0.3).abs() < 0.015, "B {}", share("B"));
        assert!((share("C") - 0.2).abs() < 0.015, "C {}", share("C"));
        assert_eq!(share("D"), 0.0);
    }

    #[test]
    fn correlation_is_reproduced() {
        let table = correlated_table(2000);
        let train = spearman(&column(&table.rows, 0), &column(&table.rows, 1));
        let model = fit(&table);
        let rows = model.sample_n(5000, 1);
        let rho = spearman(&column(&rows, 0), &column(&rows, 1));
        assert!(train > 0.9, "training rank correlation {train}");
        assert!(rho > 0.8, "sampled rank correlation {rho}");
        // The categorical column follows x too.
        let large_mean = |want: &str| {
            let xs: Vec<f64> = rows
                .iter()
                .filter(|r| label(&r.0[2]) == want)
                .map(|r| int(&r.0[0]) as f64)
                .collect();
            xs.iter().sum::<f64>() / xs.len() as f64
        };
        assert!(large_mean("large") > large_mean("small") + 8.0);
    }

    #[test]
    fn sampling_is_deterministic_and_shards_compose() {
        let model = fit(&correlated_table(500));
        let all = model.sample_n(100, 77);
        assert_eq!(all, model.sample_n(100, 77));
        assert_ne!(all, model.sample_n(100, 78));
        let request = SampleRequest {
            seed: 77,
            rows: 10..20,
            fixed: Vec::new(),
        };
        assert_eq!(model.sample(&request).unwrap(), all[10..20]);
        // The parallel path (requests of 4096 rows or more) gives the same rows as the
        // sequential one.
        let long = model.sample_n(5000, 77);
        assert_eq!(long[..100], all[..]);
        let tail = model
            .sample(&SampleRequest {
                seed: 77,
                rows: (long.len() as u64 - 10)..(long.len() as u64),
                fixed: Vec::new(),
            })
            .unwrap();
        assert_eq!(tail, long[long.len() - 10..]);
        // Conditional samples compose too.
        let fixed = vec![("kind".to_string(), FeatureValue::Cat("large".into()))];
        let whole = model
            .sample(&SampleRequest {
                seed: 5,
                rows: 0..50,
                fixed: fixed.clone(),
            })
            .unwrap();
        let part = model
            .sample(&SampleRequest {
                seed: 5,
                rows: 20..30,
                fixed,
            })
            .unwrap();
        assert_eq!(part, whole[20..30]);
    }

    #[test]
    fn conditional_sampling_fixes_the_value_and_shifts_correlated_columns() {
        let model = fit(&correlated_table(2000));
        let sample = |value: &str| {
            model
                .sample(&SampleRequest {
                    seed: 3,
                    rows: 0..3000,
                    fixed: vec![("kind".into(), FeatureValue::Cat(value.into()))],
                })
                .unwrap()
        };
        let mean_x =
            |rows: &[StructureRow]| column(rows, 0).iter().sum::<f64>() / rows.len() as f64;
        let large = sample("large");
        let small = sample("small");
        assert!(large.iter().all(|r| label(&r.0[2]) == "large"));
        assert!(small.iter().all(|r| label(&r.0[2]) == "small"));
        let all = model.sample_n(3000, 3);
        let (ml, ms, ma) = (mean_x(&large), mean_x(&small), mean_x(&all));
        assert!(
            ml > ma + 4.5 && ms < ma - 4.5,
            "large {ml}, small {ms}, all {ma}"
        );
        // The correlation among the free columns survives conditioning.
        assert!(spearman(&column(&large, 0), &column(&large, 1)) > 0.6);
    }

    #[test]
    fn invalid_conditions_are_rejected() {
        let model = fit(&correlated_table(200));
        let check = |fixed: Vec<(String, FeatureValue)>, needle: &str| {
            let err = model
                .sample(&SampleRequest {
                    seed: 0,
                    rows: 0..10,
                    fixed,
                })
                .unwrap_err();
            assert!(matches!(err, FitError::InvalidCondition(_)), "{err:?}");
            assert!(err.to_string().contains(needle), "{err} lacks {needle}");
        };
        check(vec![("nope".into(), FeatureValue::Cat("x".into()))], "nope");
        check(vec![("x".into(), FeatureValue::Int(3))], "numerical");
        check(
            vec![("kind".into(), FeatureValue::Cat("never".into()))],
            "never",
        );
        check(vec![("kind".into(), FeatureValue::Int(1))], "kind");
        check(
            vec![
                ("kind".into(), FeatureValue::Cat("small".into())),
                ("kind".into(), FeatureValue::Cat("large".into())),
            ],
            "two different values",
        );
    }

    #[test]
    fn save_and_load_round_trip() {
        let model = fit(&correlated_table(300));
        let dir = std::env::temp_dir().join(format!("sqlsynth-gc-test-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let nested = dir.join("a/b");
        model.save(&nested).unwrap();
        let loaded = FittedGaussianCopula::load(&nested).unwrap();
        assert_eq!(loaded.spec, model.spec);
        assert_eq!(loaded.columns(), model.columns());
        assert_eq!(loaded.marginals(), model.marginals());
        assert_eq!(loaded.sample_n(500, 8), model.sample_n(500, 8));
        let fixed = vec![("kind".to_string(), FeatureValue::Cat("small".into()))];
        let request = SampleRequest {
            seed: 8,
            rows: 0..200,
            fixed,
        };
        assert_eq!(
            loaded.sample(&request).unwrap(),
            model.sample(&request).unwrap()
        );
        // Only the model file is left behind.
        let names: Vec<_> = fs::read_dir(&nested)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, [MODEL_FILE]);
        // A damaged file is a model error naming the file.
        fs::write(nested.join(MODEL_FILE), "{\"format\": 1}").unwrap();
        let err = FittedGaussianCopula::load(&nested).unwrap_err();
        assert!(matches!(err, FitError::Model { .. }), "{err:?}");
        assert!(err.to_string().contains(MODEL_FILE));
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn integers_stay_within_bounds() {
        let mut rng = ChaCha8Rng::seed_from_u64(21);
        let rows: Vec<StructureRow> = (0..500)
            .map(|_| {
                let v = (15.0 + 2.0 * rng.sample::<f64, _>(StandardNormal)).round() as i64;
                StructureRow(vec![FeatureValue::Int(v.clamp(10, 20))])
            })
            .collect();
        let table = FeatureTable {
            columns: vec![num("v", 0, 100)],
            rows,
        };
        let model = fit(&table);
        let values = column(&model.sample_n(5000, 2), 0);
        assert!(values.iter().all(|&v| (10.0..=20.0).contains(&v)));
        assert!(values.contains(&10.0) && values.contains(&20.0));
        // Without enforce_min_max a normal marginal reaches past the observed range, but
        // never past the declared domain.
        let params = GaussianCopulaParams {
            enforce_min_max: false,
            numerical_distributions: [("v".to_string(), Marginal::Normal)].into(),
            ..GaussianCopulaParams::default()
        };
        let model = GaussianCopula::new(params).unwrap().fit(&table).unwrap();
        assert_eq!(model.marginals()[0].1, "norm");
        let values = column(&model.sample_n(5000, 2), 0);
        assert!(values.iter().all(|&v| (0.0..=100.0).contains(&v)));
        assert!(values.iter().any(|&v| !(10.0..=20.0).contains(&v)));
    }

    #[test]
    fn constant_columns_are_handled() {
        let rows = (0..300)
            .map(|i| {
                StructureRow(vec![
                    FeatureValue::Int(4),
                    FeatureValue::Int(i % 9),
                    FeatureValue::Cat("only".into()),
                ])
            })
            .collect();
        let table = FeatureTable {
            columns: vec![num("k", 0, 10), num("v", 0, 10), cat("c", &["only"])],
            rows,
        };
        let model = fit(&table);
        assert_eq!(model.marginals()[0].1, "constant");
        assert_eq!(model.correlation()[0], [1.0, 0.0, 0.0]);
        let rows = model.sample_n(2000, 6);
        assert!(rows.iter().all(|r| r.0[0] == FeatureValue::Int(4)));
        assert!(rows.iter().all(|r| label(&r.0[2]) == "only"));
        let v = column(&rows, 1);
        assert!(v.iter().all(|&x| (0.0..=8.0).contains(&x)));
        assert!(v.iter().any(|&x| x != v[0]));
    }

    #[test]
    fn duplicate_columns_give_a_singular_correlation_that_still_samples() {
        let rows = (0..400)
            .map(|i| {
                let v = (i * 7) % 31;
                StructureRow(vec![FeatureValue::Int(v), FeatureValue::Int(v)])
            })
            .collect();
        let table = FeatureTable {
            columns: vec![num("a", 0, 30), num("b", 0, 30)],
            rows,
        };
        let model = fit(&table);
        let rows = model.sample_n(2000, 4);
        let rho = spearman(&column(&rows, 0), &column(&rows, 1));
        assert!(rho > 0.99, "{rho}");
    }

    #[test]
    fn empty_tables_and_bad_hyperparameters_are_rejected() {
        let table = FeatureTable {
            columns: vec![num("a", 0, 3)],
            rows: Vec::new(),
        };
        assert!(matches!(
            GaussianCopula::default().fit(&table),
            Err(FitError::Empty)
        ));
        let no_candidates = GaussianCopulaParams {
            candidates: Vec::new(),
            ..GaussianCopulaParams::default()
        };
        assert!(matches!(
            GaussianCopula::new(no_candidates),
            Err(FitError::InvalidParameter {
                name: "candidates",
                ..
            })
        ));
        let twice = GaussianCopulaParams {
            candidates: vec![Marginal::Beta, Marginal::Beta],
            ..GaussianCopulaParams::default()
        };
        assert!(GaussianCopula::new(twice).is_err());
        let unknown = GaussianCopulaParams {
            numerical_distributions: [("zz".to_string(), Marginal::Gamma)].into(),
            ..GaussianCopulaParams::default()
        };
        let table = FeatureTable {
            columns: vec![num("a", 0, 3)],
            rows: vec![StructureRow(vec![FeatureValue::Int(1)])],
        };
        assert!(GaussianCopula::new(unknown).unwrap().fit(&table).is_err());
    }

    #[test]
    fn values_of_the_wrong_kind_are_rejected() {
        let table = FeatureTable {
            columns: vec![num("a", 0, 3), cat("b", &["x"])],
            rows: vec![StructureRow(vec![
                FeatureValue::Cat("x".into()),
                FeatureValue::Cat("x".into()),
            ])],
        };
        let err = GaussianCopula::default().fit(&table).unwrap_err();
        assert!(err.to_string().contains("`a`"), "{err}");
        let table = FeatureTable {
            columns: vec![num("a", 0, 3)],
            rows: vec![StructureRow(vec![
                FeatureValue::Int(1),
                FeatureValue::Int(2),
            ])],
        };
        assert!(GaussianCopula::default().fit(&table).is_err());
    }

    #[test]
    fn threshold_lookup_equals_rounded_inverse_cdf() {
        let marginals = [
            FittedMarginal::Gamma {
                a: 1.7,
                loc: -0.5,
                scale: 3.0,
            },
            FittedMarginal::Beta {
                a: 0.8,
                b: 2.5,
                loc: 0.0,
                scale: 12.0,
            },
            FittedMarginal::TruncatedNormal {
                lower: 0.0,
                upper: 12.0,
                loc: 3.0,
                scale: 4.0,
            },
            FittedMarginal::Normal {
                loc: 5.0,
                scale: 3.0,
            },
        ];
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        for marginal in marginals {
            let model = ColumnModel::Numerical {
                marginal: marginal.clone(),
                min: 0,
                max: 12,
                selection: Vec::new(),
            };
            let with_table = Sampler::new(&model);
            let Sampler::Integer {
                lo, hi, marginal, ..
            } = with_table.clone()
            else {
                panic!("integer sampler expected")
            };
            let without_table = Sampler::Integer {
                lo,
                hi,
                table: None,
                marginal: marginal.clone(),
            };
            for _ in 0..2000 {
                let z: f64 = rng.sample(StandardNormal);
                let u = norm_cdf(z);
                // F⁻¹(u) by bisection on the CDF.
                let (mut a, mut b) = (-100.0, 100.0);
                for _ in 0..200 {
                    let mid = 0.5 * (a + b);
                    if marginal.cdf(mid) < u {
                        a = mid;
                    } else {
                        b = mid;
                    }
                }
                let want = FeatureValue::Int(clip_round(0.5 * (a + b), 0, 12));
                assert_eq!(with_table.value(z), want, "{marginal} z={z}");
                assert_eq!(without_table.value(z), want, "{marginal} z={z}");
            }
        }
    }

    #[test]
    fn eigen_decomposition_and_cholesky_reconstruct_the_matrix() {
        let a = [4.0, 1.0, 0.5, 1.0, 3.0, 0.2, 0.5, 0.2, 2.0];
        let (values, vectors) = symmetric_eigen(&a, 3);
        for i in 0..3 {
            for j in 0..3 {
                let r: f64 = (0..3)
                    .map(|k| vectors[i * 3 + k] * values[k] * vectors[j * 3 + k])
                    .sum();
                assert!((r - a[i * 3 + j]).abs() < 1e-12);
            }
        }
        let l = cholesky(&a, 3).unwrap();
        let x = cholesky_solve(&l, 3, &[1.0, 2.0, 3.0]);
        for i in 0..3 {
            let r: f64 = (0..3).map(|k| a[i * 3 + k] * x[k]).sum();
            assert!((r - [1.0, 2.0, 3.0][i]).abs() < 1e-12);
        }
        assert!(cholesky(&[1.0, 1.0, 1.0, 1.0], 2).is_none());
    }

    #[test]
    fn marginal_names_parse() {
        for m in Marginal::ALL {
            assert_eq!(m.name().parse::<Marginal>().unwrap(), m);
            let json = serde_json::to_string(&m).unwrap();
            assert_eq!(json, format!("\"{}\"", m.name()));
        }
        assert_eq!(
            "truncated_normal".parse::<Marginal>().unwrap(),
            Marginal::TruncatedNormal
        );
        assert!("cauchy".parse::<Marginal>().is_err());
    }

    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn fitted_model_is_send_and_sync() {
        assert_send_sync::<FittedGaussianCopula>();
    }

    #[test]
    fn wide_negative_and_extreme_ranges_sample_within_bounds() {
        let mut rng = ChaCha8Rng::seed_from_u64(99);
        let rows: Vec<StructureRow> = (0..1000)
            .map(|_| {
                let wide: i64 = rng.random_range(-1_000_000..=-100_000);
                let extreme = if rng.random::<bool>() {
                    i64::MIN
                } else {
                    i64::MAX
                };
                StructureRow(vec![FeatureValue::Int(wide), FeatureValue::Int(extreme)])
            })
            .collect();
        let table = FeatureTable {
            columns: vec![
                num("wide", -1_000_000, 0),
                num("extreme", i64::MIN, i64::MAX),
            ],
            rows,
        };
        let model = fit(&table);
        let rows = model.sample_n(300, 1);
        let wide = column(&rows, 0);
        assert!(wide.iter().all(|&v| (-1e6..=-1e5).contains(&v)));
        assert!(wide.iter().any(|&v| v < -9e5) && wide.iter().any(|&v| v > -2e5));
        // The no-table path agrees with a table built over a sub-range of the same span.
        let ColumnModel::Numerical { marginal, .. } = &model.column_models()[0] else {
            panic!("numerical model expected")
        };
        let no_table = Sampler::new(&model.column_models()[0]);
        assert!(matches!(no_table, Sampler::Integer { table: None, .. }));
        let table_over = |lo: i64, hi: i64| Sampler::Integer {
            lo,
            hi,
            table: Some(
                (lo..hi)
                    .map(|k| marginal.normal_score_threshold(k as f64 + 0.5))
                    .collect(),
            ),
            marginal: marginal.clone(),
        };
        let (a, b) = (-600_000, -590_000);
        let u_a = marginal.cdf(a as f64 + 0.5);
        let u_b = marginal.cdf(b as f64 - 0.5);
        let local = table_over(a, b);
        for i in 1..100 {
            let z = norm_ppf(u_a + (u_b - u_a) * i as f64 / 100.0);
            assert_eq!(no_table.value(z), local.value(z), "z={z}");
        }
    }

    #[test]
    fn empirical_marginals_reproduce_zero_inflated_counts() {
        let mut rng = ChaCha8Rng::seed_from_u64(12);
        let rows: Vec<StructureRow> = (0..3000)
            .map(|_| {
                let v: i64 = if rng.random::<f64>() < 0.8 {
                    0
                } else {
                    rng.random_range(1..=5)
                };
                let c = if v > 0 { "some" } else { "none" };
                StructureRow(vec![FeatureValue::Int(v), FeatureValue::Cat(c.into())])
            })
            .collect();
        let table = FeatureTable {
            columns: vec![num("v", 0, 9), cat("c", &["none", "some"])],
            rows: rows.clone(),
        };
        let share_zero =
            |v: &[f64]| v.iter().filter(|&&x| x == 0.0).count() as f64 / v.len() as f64;
        let train = share_zero(&column(&rows, 0));
        let params = GaussianCopulaParams {
            candidates: vec![Marginal::Empirical],
            ..GaussianCopulaParams::default()
        };
        let model = GaussianCopula::new(params).unwrap().fit(&table).unwrap();
        assert_eq!(model.marginals()[0].1, "empirical");
        let sampled = column(&model.sample_n(20_000, 3), 0);
        assert!((share_zero(&sampled) - train).abs() < 0.015);
        for k in 1..=5 {
            let want = column(&rows, 0).iter().filter(|&&x| x == k as f64).count() as f64 / 3000.0;
            let got = sampled.iter().filter(|&&x| x == k as f64).count() as f64 / 20_000.0;
            assert!((want - got).abs() < 0.01, "{k}: {want} vs {got}");
        }
        // Conditioning on the category moves nearly all mass off 0.
        let some = model
            .sample(&SampleRequest {
                seed: 3,
                rows: 0..5000,
                fixed: vec![("c".into(), FeatureValue::Cat("some".into()))],
            })
            .unwrap();
        assert!(share_zero(&column(&some, 0)) < 0.2);
        // The discrete sampler agrees with the integer-table semantics.
        let ColumnModel::Numerical {
            marginal, min, max, ..
        } = &model.column_models()[0]
        else {
            panic!("numerical model expected")
        };
        let discrete = Sampler::new(&model.column_models()[0]);
        assert!(matches!(discrete, Sampler::Discrete { .. }));
        let integer = Sampler::Integer {
            lo: *min,
            hi: *max,
            table: None,
            marginal: marginal.clone(),
        };
        for i in -400..400 {
            let z = i as f64 / 100.0;
            assert_eq!(discrete.value(z), integer.value(z), "z={z}");
        }
        // And the model round-trips through JSON.
        let json = serde_json::to_string(&model.spec).unwrap();
        let back: ModelSpec = serde_json::from_str(&json).unwrap();
        assert_eq!(back, model.spec);
    }

    #[test]
    fn all_columns_fixed_and_zero_columns() {
        let table = FeatureTable {
            columns: vec![cat("only", &["a", "b"])],
            rows: vec![
                StructureRow(vec![FeatureValue::Cat("a".into())]),
                StructureRow(vec![FeatureValue::Cat("b".into())]),
            ],
        };
        let rows = fit(&table)
            .sample(&SampleRequest {
                seed: 1,
                rows: 0..3,
                fixed: vec![("only".into(), FeatureValue::Cat("b".into()))],
            })
            .unwrap();
        assert_eq!(
            rows,
            vec![StructureRow(vec![FeatureValue::Cat("b".into())]); 3]
        );
        let table = FeatureTable {
            columns: Vec::new(),
            rows: vec![StructureRow(Vec::new()); 3],
        };
        assert_eq!(
            fit(&table).sample_n(2, 0),
            vec![StructureRow(Vec::new()); 2]
        );
    }

    #[test]
    fn categorical_jitter_is_seeded_and_weaker_than_cell_means() {
        let table = correlated_table(1000);
        let with = |jitter: bool, fit_seed: u64| {
            let params = GaussianCopulaParams {
                categorical_jitter: jitter,
                fit_seed,
                ..GaussianCopulaParams::default()
            };
            GaussianCopula::new(params).unwrap().fit(&table).unwrap()
        };
        let (a, b, c) = (with(true, 1), with(true, 1), with(true, 2));
        assert_eq!(a.correlation(), b.correlation());
        assert_ne!(a.correlation(), c.correlation());
        // Cell means: no randomness, and a stronger x–kind dependence than the jitter.
        let (m1, m2) = (with(false, 1), with(false, 2));
        assert_eq!(m1.correlation(), m2.correlation());
        assert!(m1.correlation()[0][2] > a.correlation()[0][2] + 0.05);
    }
}
