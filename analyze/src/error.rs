//! Errors of conversion and analysis, each naming the file (and what was being done) so a
//! user can act on it.

use std::path::PathBuf;

/// Result with [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

/// What went wrong, and where.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The trace could not be opened or read.
    #[error(transparent)]
    Trace(#[from] scope_format::Error),
    /// Reading or writing a file failed.
    #[error("{what} {}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What was being done.
        what: &'static str,
        /// The cause.
        source: std::io::Error,
    },
    /// The Parquet writer or reader failed.
    #[error("{what} {}: {source}", path.display())]
    Parquet {
        /// The file.
        path: PathBuf,
        /// What was being done.
        what: &'static str,
        /// The cause.
        source: parquet::errors::ParquetError,
    },
    /// A Parquet input is not a table this tool wrote (a column is missing or has another type).
    #[error("{}: not an ElixirScope events table: {reason}", path.display())]
    NotEventsTable {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// A Polars computation failed.
    #[error("{what}: {source}")]
    Polars {
        /// The analysis or query.
        what: String,
        /// The cause.
        source: polars::error::PolarsError,
    },
    /// Arguments that cannot work (say, an output that already exists as a file).
    #[error("{0}")]
    Usage(String),
}

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, what: &'static str, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            what,
            source,
        }
    }

    pub(crate) fn polars(what: impl std::fmt::Display, source: polars::error::PolarsError) -> Self {
        Error::Polars {
            what: what.to_string(),
            source,
        }
    }

    pub(crate) fn parquet(
        path: impl Into<PathBuf>,
        what: &'static str,
        source: parquet::errors::ParquetError,
    ) -> Self {
        Error::Parquet {
            path: path.into(),
            what,
            source,
        }
    }
}
