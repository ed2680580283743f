//! One error type for every operation of the SDK.
//!
//! Each variant is a *kind* that every shell maps the same way (HTTP status, MCP error,
//! CLI exit code). Messages are written for the caller and never contain secrets: provider
//! errors keep the provider's request id for support, not the request itself.

use std::fmt;

/// Result alias used throughout the SDK.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong, by kind. Match on the variant, not on the message.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The input was rejected before anything changed.
    #[error("invalid {field}: {message}")]
    Validation {
        /// The argument or field at fault (`amount`, `currency`, `symbol` ...).
        field: String,
        /// What is wrong with it and what is accepted.
        message: String,
    },
    /// No valid credential was presented.
    #[error("unauthenticated: {0}")]
    Unauthenticated(String),
    /// The principal is known but its scopes or role do not allow the operation.
    #[error("forbidden: {required}")]
    Forbidden {
        /// What the operation needs and the principal lacks: a scope (`missing scope
        /// `payments:write``, see [`Error::missing_scope`]) or a condition (another approver,
        /// limits no looser than the creating key's).
        required: String,
    },
    /// The object does not exist for this principal's tenant.
    #[error("{kind} {id} not found")]
    NotFound {
        /// The kind of object (`payment`, `order` ...).
        kind: &'static str,
        /// The id the caller asked for.
        id: String,
    },
    /// The request conflicts with the current state (idempotency key reuse, wrong status ...).
    #[error("conflict ({code}): {message}")]
    Conflict {
        /// Stable machine-readable reason.
        code: ConflictCode,
        /// Human-readable explanation.
        message: String,
    },
    /// A spending limit of the API key would be exceeded; nothing was done.
    #[error("limit exceeded ({limit}): {message}")]
    LimitExceeded {
        /// Which limit (`max_per_payment`, `max_per_day`, `max_order_notional`).
        limit: &'static str,
        /// Human-readable explanation with the amounts involved.
        message: String,
    },
    /// Fraud screening blocked the operation; nothing was done.
    #[error("blocked by fraud screening: {reasons}")]
    Blocked {
        /// The reasons the screen gave, joined.
        reasons: String,
    },
    /// The provider refused or failed.
    #[error("{provider} error{}: {message}", request_id.as_deref().map(|r| format!(" (request {r})")).unwrap_or_default())]
    Provider {
        /// Which provider (`sim`, `plaid`, `stripe`, `alpaca`).
        provider: &'static str,
        /// A stable code (`card_declined`, `insufficient_funds`, `unavailable` ...).
        code: String,
        /// Human-readable explanation.
        message: String,
        /// The provider's request id, for support.
        request_id: Option<String>,
        /// True when the same request may succeed if retried later.
        retryable: bool,
    },
    /// A bug or an infrastructure failure the caller cannot do anything about.
    #[error("internal error: {0}")]
    Internal(String),
    /// The database cannot be reached or cannot write right now (restarting, unreachable,
    /// out of disk space). Transient: the same request with the same idempotency key may be
    /// retried and runs at most once.
    #[error("database unavailable ({0}): retry later with the same idempotency key; the operation runs at most once")]
    Unavailable(String),
    /// The money move needs the caller's confirmation first (the key's `confirm_above`):
    /// nothing was done. The decision says what would happen and carries the token that
    /// executes exactly this request once.
    #[error("confirmation required: {}; send the request again with its confirmation_token to execute it", .0.summary)]
    ConfirmationRequired(Box<crate::platform::MoveDecision>),
}

/// Stable reasons for [`Error::Conflict`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConflictCode {
    /// The idempotency key was used before with a different request.
    IdempotencyKeyReused,
    /// A request with the same idempotency key is still running.
    IdempotencyInProgress,
    /// The request's idempotency claim ran out and a retry took it over; the retry's result
    /// is the one that counts.
    IdempotencyLeaseLost,
    /// The object is not in a state that allows the operation.
    InvalidState,
    /// The object already exists.
    AlreadyExists,
    /// A confirmation token that was not issued for this request, operation and caller.
    ConfirmationInvalid,
    /// A confirmation token past its expiry.
    ConfirmationExpired,
}

impl ConflictCode {
    /// The stable string form used in API error bodies.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::IdempotencyKeyReused => "idempotency_key_reused",
            Self::IdempotencyInProgress => "idempotency_in_progress",
            Self::IdempotencyLeaseLost => "idempotency_lease_lost",
            Self::InvalidState => "invalid_state",
            Self::AlreadyExists => "already_exists",
            Self::ConfirmationInvalid => "confirmation_invalid",
            Self::ConfirmationExpired => "confirmation_expired",
        }
    }
}

impl fmt::Display for ConflictCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The coarse kind of an [`Error`], for mapping to transport codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// [`Error::Validation`]
    Validation,
    /// [`Error::Unauthenticated`]
    Unauthenticated,
    /// [`Error::Forbidden`]
    Forbidden,
    /// [`Error::NotFound`]
    NotFound,
    /// [`Error::Conflict`]
    Conflict,
    /// [`Error::LimitExceeded`] and [`Error::Blocked`]
    Limit,
    /// [`Error::Provider`]
    Provider,
    /// [`Error::Internal`]
    Internal,
    /// [`Error::Unavailable`]
    Unavailable,
    /// [`Error::ConfirmationRequired`]
    ConfirmationRequired,
}

impl Error {
    /// Shorthand for a validation error.
    pub fn validation(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Validation {
            field: field.into(),
            message: message.into(),
        }
    }

    /// Shorthand for [`Error::Forbidden`] naming the scope the principal lacks.
    pub fn missing_scope(scope: impl fmt::Display) -> Self {
        Self::Forbidden {
            required: format!("missing scope `{scope}`"),
        }
    }

    /// Shorthand for a not-found error.
    pub fn not_found(kind: &'static str, id: impl fmt::Display) -> Self {
        Self::NotFound {
            kind,
            id: id.to_string(),
        }
    }

    /// Shorthand for a conflict.
    pub fn conflict(code: ConflictCode, message: impl Into<String>) -> Self {
        Self::Conflict {
            code,
            message: message.into(),
        }
    }

    /// Shorthand for an internal error.
    pub fn internal(message: impl fmt::Display) -> Self {
        Self::Internal(message.to_string())
    }

    /// The kind of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::Validation { .. } => ErrorKind::Validation,
            Self::Unauthenticated(_) => ErrorKind::Unauthenticated,
            Self::Forbidden { .. } => ErrorKind::Forbidden,
            Self::NotFound { .. } => ErrorKind::NotFound,
            Self::Conflict { .. } => ErrorKind::Conflict,
            Self::LimitExceeded { .. } | Self::Blocked { .. } => ErrorKind::Limit,
            Self::Provider { .. } => ErrorKind::Provider,
            Self::Internal(_) => ErrorKind::Internal,
            Self::Unavailable(_) => ErrorKind::Unavailable,
            Self::ConfirmationRequired(_) => ErrorKind::ConfirmationRequired,
        }
    }
}

impl From<sqlx::Error> for Error {
    fn from(e: sqlx::Error) -> Self {
        match unavailable(&e) {
            Some(why) => {
                tracing::warn!(error = %e, "database unavailable");
                Self::Unavailable(why.to_owned())
            }
            // Database errors never carry bound values in their Display, so this is secret-free.
            None => Self::Internal(format!("database: {e}")),
        }
    }
}

/// Why a database error is transient (the connection, a restart, a full disk), or `None`
/// for anything else.
fn unavailable(e: &sqlx::Error) -> Option<&'static str> {
    match e {
        sqlx::Error::Io(_) | sqlx::Error::Tls(_) | sqlx::Error::Protocol(_) => {
            Some("the connection to the database failed")
        }
        sqlx::Error::PoolTimedOut => Some("no database connection became free in time"),
        sqlx::Error::PoolClosed | sqlx::Error::WorkerCrashed => {
            Some("the database connection pool is closed")
        }
        sqlx::Error::Database(db) => {
            let code = db.code()?;
            // SQLite: primary result codes (the low byte of an extended code)
            if let Ok(n) = code.parse::<i32>() {
                return match n & 0xff {
                    13 => Some("the database's disk is full"),
                    10 => Some("the database's disk failed to write"),
                    _ => None,
                };
            }
            // PostgreSQL SQLSTATEs
            match code.as_ref() {
                "53100" => Some("the database's disk is full"),
                "57P01" | "57P02" | "57P03" => Some("the database is restarting"),
                c if c.starts_with("08") => Some("the connection to the database failed"),
                c if c.starts_with("53") => Some("the database is out of resources"),
                _ => None,
            }
        }
        _ => None,
    }
}

impl From<sqlx::migrate::MigrateError> for Error {
    fn from(e: sqlx::migrate::MigrateError) -> Self {
        Self::Internal(format!("migration: {e}"))
    }
}
