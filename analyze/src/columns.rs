//! Typed access to a Polars frame's columns, failing with this crate's error that names the
//! analysis, so each analysis reads its result frame in one line per column; and the one
//! percentile expression every latency table uses.

use polars::prelude::*;

use crate::error::{Error, Result};

/// A frame being read by one analysis (`what`, for error messages).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Columns<'a> {
    df: &'a DataFrame,
    what: &'static str,
}

/// The `p` quantile of an integer nanosecond column (an observed value, not interpolated),
/// as Int64.
pub(crate) fn percentile_ns(column: &str, p: f64) -> Expr {
    col(column)
        .quantile(lit(p), QuantileMethod::Nearest)
        .cast(DataType::Int64)
}

macro_rules! typed {
    ($name:ident, $ty:ty) => {
        pub(crate) fn $name(&self, column: &str) -> Result<&'a $ty> {
            self.df
                .column(column)
                .and_then(|c| c.$name())
                .map_err(|e| Error::polars(self.what, e))
        }
    };
}

impl<'a> Columns<'a> {
    pub(crate) fn new(df: &'a DataFrame, what: &'static str) -> Self {
        Columns { df, what }
    }

    typed!(str, StringChunked);
    typed!(u32, UInt32Chunked);
    typed!(u64, UInt64Chunked);
    typed!(i64, Int64Chunked);
    typed!(f64, Float64Chunked);
    typed!(list, ListChunked);
    typed!(bool, BooleanChunked);
}
