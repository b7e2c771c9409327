//! Fault injection (issue 13 item 5): what a client of MAA must survive, armed on the running
//! service with [`super::MaaService::inject`] or through its admin listener (`admin.rs`).
//!
//! Faults act on attestation requests (`POST /attest/…`) only, and only on those that reach the
//! service proper: a request refused at the door (unknown path, no `api-version`) consumes none. Each
//! armed fault has a count of the requests it still affects, or affects every one until cleared;
//! faults of different kinds combine (a delay, then a token that is both expired and wrongly issued).
//! Those that change a token take effect only when there is one: a request whose evidence fails
//! appraisal consumes none of them.

use std::fmt;

use serde::{Deserialize, Serialize};

/// One fault. As JSON (admin listener): `{"fault": "delay", "ms": 1500}`,
/// `{"fault": "too-many-requests", "retry_after": 2}`, `{"fault": "server-error"}`, …
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "fault", rename_all = "kebab-case")]
pub enum Fault {
    /// Wait this long before answering.
    Delay { ms: u64 },
    /// HTTP 429 with `Retry-After: retry_after` (seconds) and MAA's error JSON; no attestation.
    TooManyRequests { retry_after: u32 },
    /// HTTP 500 with MAA's error JSON; no attestation.
    ServerError,
    /// HTTP 200 whose body is not JSON (a `{"token": …` cut off before its end).
    MalformedBody,
    /// The token is signed by a key that `/certs` does not publish (header `kid` unchanged: only
    /// verifying the signature catches it).
    UnknownSigningKey,
    /// The token's `iss` is not the service's base URL.
    WrongIssuer,
    /// The token expired: `iat` = `nbf` 9 hours ago, `exp` = `iat` + 8 hours (an hour ago).
    ExpiredToken,
    /// AzureGuest only: the envelope's `AuthenticationData` (the GCM tag) has one bit flipped, so
    /// decryption fails its authentication.
    TamperedEnvelopeTag,
}

impl Fault {
    /// The kebab-case name, as in JSON.
    pub fn name(self) -> &'static str {
        match self {
            Fault::Delay { .. } => "delay",
            Fault::TooManyRequests { .. } => "too-many-requests",
            Fault::ServerError => "server-error",
            Fault::MalformedBody => "malformed-body",
            Fault::UnknownSigningKey => "unknown-signing-key",
            Fault::WrongIssuer => "wrong-issuer",
            Fault::ExpiredToken => "expired-token",
            Fault::TamperedEnvelopeTag => "tampered-envelope-tag",
        }
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fault::Delay { ms } => write!(f, "delay {ms} ms"),
            Fault::TooManyRequests { retry_after } => write!(f, "429 with Retry-After {retry_after}"),
            other => f.write_str(other.name()),
        }
    }
}

/// How many requests a fault affects. As JSON: a number, or `"always"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "TimesWire", into = "TimesWire")]
pub enum Times {
    /// The next `n` requests it applies to.
    Count(u32),
    /// Every request it applies to, until cleared.
    Always,
}

#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum TimesWire {
    Count(u32),
    Word(String),
}

impl TryFrom<TimesWire> for Times {
    type Error = String;

    fn try_from(wire: TimesWire) -> Result<Self, String> {
        match wire {
            TimesWire::Count(n) => Ok(Times::Count(n)),
            TimesWire::Word(word) if word == "always" => Ok(Times::Always),
            TimesWire::Word(word) => Err(format!("times is a number or \"always\", not {word:?}")),
        }
    }
}

impl From<Times> for TimesWire {
    fn from(times: Times) -> Self {
        match times {
            Times::Count(n) => TimesWire::Count(n),
            Times::Always => TimesWire::Word("always".to_owned()),
        }
    }
}

/// An armed fault and what is left of it. As JSON: the fault's members and `times` (default 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Armed {
    #[serde(flatten)]
    pub fault: Fault,
    #[serde(default = "once")]
    pub times: Times,
}

fn once() -> Times {
    Times::Count(1)
}

/// The armed faults, in the order they were armed.
#[derive(Debug, Default)]
pub(super) struct Faults(Vec<Armed>);

impl Faults {
    pub fn arm(&mut self, fault: Fault, times: Times) {
        if times != Times::Count(0) {
            self.0.push(Armed { fault, times });
        }
    }

    pub fn clear(&mut self) {
        self.0.clear();
    }

    pub fn armed(&self) -> Vec<Armed> {
        self.0.clone()
    }

    /// Use the first armed fault that `applies` to once: it is returned, and removed when used up.
    pub fn take(&mut self, applies: impl Fn(&Fault) -> bool) -> Option<Fault> {
        let index = self.0.iter().position(|armed| applies(&armed.fault))?;
        let armed = self.0.get_mut(index)?;
        let fault = armed.fault;
        match &mut armed.times {
            Times::Always => {}
            Times::Count(n) => {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    self.0.remove(index);
                }
            }
        }
        Some(fault)
    }

    /// Use `fault` once if one like it (same kind) is armed.
    pub fn take_kind(&mut self, kind: Fault) -> bool {
        self.take(|armed| std::mem::discriminant(armed) == std::mem::discriminant(&kind)).is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_down_and_keeps_always() {
        let mut faults = Faults::default();
        faults.arm(Fault::ServerError, Times::Count(2));
        faults.arm(Fault::WrongIssuer, Times::Always);
        faults.arm(Fault::MalformedBody, Times::Count(0));
        assert_eq!(faults.armed().len(), 2, "a fault armed for 0 requests is not armed");
        assert!(faults.take_kind(Fault::ServerError));
        assert!(faults.take_kind(Fault::ServerError));
        assert!(!faults.take_kind(Fault::ServerError), "used up after 2");
        for _ in 0..5 {
            assert!(faults.take_kind(Fault::WrongIssuer));
        }
        assert!(!faults.take_kind(Fault::MalformedBody));
        faults.clear();
        assert!(!faults.take_kind(Fault::WrongIssuer));
    }

    #[test]
    fn takes_the_first_of_a_kind_with_its_parameters() {
        let mut faults = Faults::default();
        faults.arm(Fault::Delay { ms: 10 }, Times::Count(1));
        faults.arm(Fault::Delay { ms: 20 }, Times::Count(1));
        let delay = |f: &Fault| matches!(f, Fault::Delay { .. });
        assert_eq!(faults.take(delay), Some(Fault::Delay { ms: 10 }));
        assert_eq!(faults.take(delay), Some(Fault::Delay { ms: 20 }));
        assert_eq!(faults.take(delay), None);
    }

    #[test]
    fn json_form() {
        let armed: Armed =
            serde_json::from_str(r#"{"fault":"too-many-requests","retry_after":3,"times":"always"}"#)
                .expect("valid");
        assert_eq!(armed, Armed { fault: Fault::TooManyRequests { retry_after: 3 }, times: Times::Always });
        let armed: Armed = serde_json::from_str(r#"{"fault":"server-error"}"#).expect("valid");
        assert_eq!(armed.times, Times::Count(1), "once by default");
        assert_eq!(
            serde_json::to_value(Armed { fault: Fault::Delay { ms: 5 }, times: Times::Count(2) })
                .expect("serialises"),
            serde_json::json!({"fault": "delay", "ms": 5, "times": 2})
        );
        for bad in [r#"{"fault":"nope"}"#, r#"{"fault":"delay"}"#, r#"{"fault":"server-error","times":"x"}"#]
        {
            assert!(serde_json::from_str::<Armed>(bad).is_err(), "{bad} accepted");
        }
    }
}
