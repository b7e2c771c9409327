//! Why a token was not accepted, in three kinds the command line maps to exit statuses: the input is
//! not a token ([`Malformed`], 2), the token is not valid ([`Rejection`], 1), or the keys could not be
//! had ([`Error::Fetch`], [`Error::Jwks`]: the service's fault 3, the operator's file 2).

use super::fetch::FetchError;
use super::jwks::JwksError;

/// Untrusted text (a claim, a header member) quoted in a message: at most this many bytes of it.
const QUOTE_BYTES: usize = 120;

/// `text` as a quoted string, cut to [`QUOTE_BYTES`], with nothing that could drive a terminal.
pub(crate) fn quote(text: &str) -> String {
    let cut = crate::text::prefix(text, QUOTE_BYTES);
    let quoted = crate::text::sanitize(&format!("{cut:?}")).into_owned();
    if cut.len() < text.len() { format!("{quoted}…") } else { quoted }
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("not a JWT: {0}")]
    Malformed(#[from] Malformed),
    #[error("token not valid: {0}")]
    Rejected(#[from] Rejection),
    #[error(transparent)]
    Fetch(#[from] FetchError),
    /// A key set that cannot be used. `from_network`: it is the issuer's answer, not the operator's file.
    #[error("the key set {origin} cannot be used: {source}")]
    Jwks {
        origin: String,
        from_network: bool,
        #[source]
        source: JwksError,
    },
    #[error("invalid issuer {}: {reason}", quote(url))]
    Issuer { url: String, reason: String },
    #[error("invalid extra CA certificates: {0}")]
    CaFile(String),
}

impl Error {
    /// Whether the service is at fault (unreachable, an error or an unusable answer), not the token or
    /// the operator's input.
    pub fn is_environment(&self) -> bool {
        match self {
            Error::Fetch(e) => e.is_environment(),
            Error::Jwks { from_network, .. } => *from_network,
            _ => false,
        }
    }
}

/// The input is not a compact JWS.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Malformed {
    #[error("the input is empty")]
    Empty,
    #[error(
        "this is MAA's encrypted AzureGuest answer (Jwt, EncryptedInnerKey, …), not a token: only the VM's \
         vTPM can decrypt it"
    )]
    Envelope,
    #[error("a JSON body must be {{\"token\": \"<JWT>\"}}, as MAA answers")]
    Body,
    #[error("a JWE (encrypted token, 5 parts) is not supported; MAA's tokens are signed JWS")]
    Jwe,
    #[error("a compact JWS has 3 dot-separated parts, this has {0}")]
    Parts(usize),
    #[error("the {part} is not base64url without padding")]
    Base64 { part: &'static str },
    #[error("the {part} is not a JSON object: {reason}")]
    Json { part: &'static str, reason: String },
}

/// The token is well formed but not valid: each names exactly what failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Rejection {
    #[error(
        "alg {} is not accepted: MAA tokens are RS256 only (refused before any key is fetched)",
        quote(alg)
    )]
    Algorithm { alg: String },
    #[error("the header has no alg")]
    NoAlgorithm,
    #[error("the header lists critical extensions (crit), and none is supported")]
    Critical,
    #[error("the header names no key (kid)")]
    NoKeyId,
    #[error("iss {} is not the expected issuer {expected:?}", quote(found))]
    Issuer { found: String, expected: String },
    #[error("no iss claim: the issuer cannot be checked")]
    NoIssuer,
    #[error("kid {} is not in the issuer's keys ({origin}{})", quote(kid), if *refreshed { ", fetched again once" } else { "" })]
    UnknownKey { kid: String, origin: String, refreshed: bool },
    #[error("the RS256 signature does not verify with key {} ({origin})", quote(kid))]
    Signature { kid: String, origin: String },
    #[error("no exp claim: a token that never expires is refused")]
    NoExpiry,
    #[error("exp {exp}: the token had expired at {at} (clock skew allowed: {skew} s)")]
    Expired { exp: String, at: String, skew: u64 },
    #[error("nbf {nbf}: the token was not valid yet at {at} (clock skew allowed: {skew} s)")]
    NotYetValid { nbf: String, at: String, skew: u64 },
    #[error("iat {iat}: the token was issued after {at}, the time judged at (clock skew allowed: {skew} s)")]
    IssuedInFuture { iat: String, at: String, skew: u64 },
    #[error("{claim} is not a NumericDate (whole seconds since 1970 within the years 0-9999)")]
    BadTime { claim: &'static str },
    #[error("no {claim} claim, so the nonce cannot be checked (was the token requested without one?)")]
    NoNonce { claim: &'static str },
    #[error("{claim} is {}, not the expected nonce {expected}", quote(found))]
    Nonce { claim: &'static str, found: String, expected: String },
}
