//! Verifying Microsoft Azure Attestation tokens (docs/protocol.md §11.4): compact JWS signed RS256
//! by a key of the MAA instance that issued them.
//!
//! In order, stopping at the first failure:
//!
//! 1. the header: `alg` must be `RS256` and there must be no `crit`, checked before any key is
//!    fetched; the header's own pointers to keys (`jku`, `x5u`, `x5c`, `jwk`) are never used;
//! 2. `iss` must be the issuer the caller expects ([`Issuer`]; never the token's word);
//! 3. the key named by the header's `kid`, from that issuer ([`KeySource`]): its OpenID metadata's
//!    `jwks_uri` (which must be on the issuer's origin), or a JWKS the caller names; MAA publishes each
//!    key as the certificate `x5c[0]`, and `n`/`e` given beside it must be the same key; RSA keys of
//!    at least 2048 bits. Fetched sets are cached, and fetched again once for an unknown `kid`
//!    ([`keys`]);
//! 4. the RS256 signature over the token as received;
//! 5. `exp` (required), `nbf` and `iat` against the time judged at, with a clock skew
//!    ([`DEFAULT_SKEW_SECONDS`]);
//! 6. the nonce, when one is expected: `x-ms-runtime.client-payload.nonce` (base64) in `azurevm`
//!    tokens, the top-level `nonce` in platform tokens.
//!
//! What the claims say about the VM (attestation type, compliance status, measurements) is for claim
//! checks, as with `verify`'s claims.

mod checks;
mod error;
mod fetch;
mod issuer;
mod jwks;
mod jws;
mod keys;

use serde_json::{Map, Value};

pub use checks::{GUEST_NONCE_CLAIM, PLATFORM_NONCE_CLAIM, nonce_claim, time_text};
pub use error::{Error, Malformed, Rejection};
pub use fetch::{FetchError, HttpOptions};
pub use issuer::Issuer;
pub use jwks::{JwksError, KeySet, MIN_RSA_BITS, VerifyingKey};
pub use jws::{Jws, extract};
pub use keys::{CACHE_TTL, KeySource, REFRESH_INTERVAL};

/// Clock difference allowed between the issuer and the verifier, in seconds. A minute covers
/// NTP-synchronised machines with room to spare, and is small beside MAA's 8-hour token lifetime.
pub const DEFAULT_SKEW_SECONDS: u64 = 60;

/// The time claims, shown readably by `token decode`.
pub const TIME_CLAIMS: [&str; 3] = ["iat", "nbf", "exp"];

/// What a token must be.
#[derive(Debug, Clone)]
pub struct Expected {
    pub issuer: Issuer,
    /// The nonce the relying party issued, as bytes; `None` checks no nonce.
    pub nonce: Option<Vec<u8>>,
    /// Unix seconds to judge the lifetime at; `None` for now.
    pub at: Option<i64>,
    pub skew_seconds: u64,
}

impl Expected {
    pub fn new(issuer: Issuer) -> Expected {
        Expected { issuer, nonce: None, at: None, skew_seconds: DEFAULT_SKEW_SECONDS }
    }
}

/// A token that passed every check.
#[derive(Debug, Clone)]
pub struct Verified {
    pub header: Map<String, Value>,
    pub claims: Map<String, Value>,
    pub kid: String,
    /// Where the key came from: the JWKS URL, or the caller's name for its key set.
    pub key_origin: String,
    pub issuer: Issuer,
    /// Unix seconds the lifetime was judged at.
    pub judged_at: i64,
    pub skew_seconds: u64,
    /// The claim the expected nonce was found in; `None` when no nonce was expected.
    pub nonce_claim: Option<&'static str>,
}

/// Verifies tokens with keys from one [`KeySource`], keeping fetched keys between calls.
#[derive(Debug)]
pub struct Verifier {
    keys: keys::KeyStore,
}

impl Verifier {
    /// A verifier taking keys from `source`, over `http` when the source is on the network (the HTTP
    /// client is built only then, but extra CA certificates are checked either way).
    pub fn new(source: KeySource, http: &HttpOptions) -> Result<Verifier, Error> {
        if let Some(pem) = &http.extra_roots_pem {
            fetch::check_roots(pem)?;
        }
        let keys = keys::KeyStore::new(source, || fetch::Http::new(http))?;
        Ok(Verifier { keys })
    }

    /// Where `issuer` publishes its signing keys and how many it publishes, fetched now: proof that
    /// tokens of `issuer` can be verified from here.
    pub fn published_keys(&self, issuer: &Issuer) -> Result<(String, usize), Error> {
        self.keys.published(issuer)
    }

    /// Verify the compact JWS `token` (see the module documentation for the checks, in order).
    pub fn verify(&self, token: &str, expected: &Expected) -> Result<Verified, Error> {
        let jws = Jws::parse(token)?;
        let kid = checks::header(jws.header())?;
        checks::issuer(jws.claims(), &expected.issuer)?;
        let found = self.keys.key(&expected.issuer, kid)?;
        if !checks::signature(&found.key, &jws) {
            return Err(Rejection::Signature { kid: kid.to_owned(), origin: found.origin }.into());
        }
        let at = expected
            .at
            .unwrap_or_else(|| i64::try_from(crate::clock::now_unix_ms() / 1000).unwrap_or(i64::MAX));
        checks::lifetime(jws.claims(), at, expected.skew_seconds)?;
        let nonce_claim = match &expected.nonce {
            Some(nonce) => {
                checks::nonce(jws.claims(), nonce)?;
                Some(checks::nonce_claim(jws.claims()))
            }
            None => None,
        };
        let kid = kid.to_owned();
        let (header, claims) = jws.into_parts();
        Ok(Verified {
            kid,
            header,
            claims,
            key_origin: found.origin,
            issuer: expected.issuer.clone(),
            judged_at: at,
            skew_seconds: expected.skew_seconds,
            nonce_claim,
        })
    }
}
