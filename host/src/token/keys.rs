//! Where the verification keys come from, and the cache that keeps them.
//!
//! Fetched key sets are kept per issuer (or per JWKS URL) for [`CACHE_TTL`]. A token naming a `kid`
//! the cached set lacks makes the set be fetched again once — MAA may have rolled its key since — but
//! not more often than every [`REFRESH_INTERVAL`], so tokens with made-up `kid`s cannot turn a
//! verifier into a stream of requests to the issuer.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use reqwest::Url;

use super::error::{Error, Rejection};
use super::fetch::Http;
use super::issuer::Issuer;
use super::jwks::{KeySet, VerifyingKey};

/// How long a fetched key set is used before it is fetched again.
pub const CACHE_TTL: Duration = Duration::from_secs(60 * 60);
/// The least time between two fetches caused by unknown `kid`s, per issuer.
pub const REFRESH_INTERVAL: Duration = Duration::from_secs(60);

/// Where the keys of the expected issuer are found.
#[derive(Debug, Clone)]
pub enum KeySource {
    /// `GET {issuer}/.well-known/openid-configuration`, then its `jwks_uri` (on the issuer's origin).
    Discover,
    /// The JWKS at this URL, chosen by the caller (an https URL, or http on loopback).
    Url(Url),
    /// A JWKS the caller already has (a saved `/certs` answer): no network at all. `origin` names it in
    /// messages.
    Static { keys: KeySet, origin: String },
}

/// A verification key and where it came from.
#[derive(Debug, Clone)]
pub struct FoundKey {
    pub key: VerifyingKey,
    pub origin: String,
}

pub(crate) struct Cached {
    url: Url,
    keys: KeySet,
    fetched: Instant,
    refreshed: Option<Instant>,
}

pub(crate) enum KeyStore {
    Static {
        keys: KeySet,
        origin: String,
    },
    /// `url`: the JWKS's, or `None` to discover it from the issuer.
    Network {
        http: Http,
        url: Option<Url>,
        cache: Mutex<HashMap<String, Cached>>,
    },
}

impl std::fmt::Debug for KeyStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeyStore::Static { origin, .. } => {
                f.debug_struct("Static").field("origin", origin).finish_non_exhaustive()
            }
            KeyStore::Network { url, .. } => {
                f.debug_struct("Network").field("url", url).finish_non_exhaustive()
            }
        }
    }
}

impl KeyStore {
    /// A store for `source`; `http` builds the client, only for sources on the network.
    pub fn new(source: KeySource, http: impl FnOnce() -> Result<Http, Error>) -> Result<KeyStore, Error> {
        Ok(match source {
            KeySource::Static { keys, origin } => KeyStore::Static { keys, origin },
            KeySource::Url(url) => {
                KeyStore::Network { http: http()?, url: Some(url), cache: Mutex::default() }
            }
            KeySource::Discover => KeyStore::Network { http: http()?, url: None, cache: Mutex::default() },
        })
    }

    /// Where `issuer`'s keys are and how many there are, fetched afresh (for `doctor`).
    pub fn published(&self, issuer: &Issuer) -> Result<(String, usize), Error> {
        match self {
            KeyStore::Static { keys, origin } => Ok((origin.clone(), keys.len())),
            KeyStore::Network { http, url, .. } => {
                let url = match url {
                    Some(url) => url.clone(),
                    None => http.jwks_uri(issuer)?,
                };
                Ok((url.to_string(), http.jwks(&url)?.len()))
            }
        }
    }

    /// The key named `kid` for tokens of `issuer`.
    pub fn key(&self, issuer: &Issuer, kid: &str) -> Result<FoundKey, Error> {
        let (http, url, cache) = match self {
            KeyStore::Static { keys, origin } => {
                return lookup(keys, kid, origin, false)?.ok_or_else(|| unknown(kid, origin, false));
            }
            KeyStore::Network { http, url, cache } => (http, url, cache),
        };
        let name = url.as_ref().map_or_else(|| issuer.as_str().to_owned(), Url::to_string);
        // Held across the fetch: concurrent verifications of one issuer wait for one fetch.
        let mut cache = cache.lock().unwrap_or_else(PoisonError::into_inner);
        let entry = match cache.entry(name) {
            Entry::Occupied(slot) if slot.get().fetched.elapsed() < CACHE_TTL => slot.into_mut(),
            slot => {
                let url = match url {
                    Some(url) => url.clone(),
                    None => http.jwks_uri(issuer)?,
                };
                let keys = http.jwks(&url)?;
                let fetched = Instant::now();
                match slot {
                    Entry::Occupied(mut slot) => {
                        let refreshed = slot.get().refreshed;
                        slot.insert(Cached { url, keys, fetched, refreshed });
                        slot.into_mut()
                    }
                    Entry::Vacant(slot) => slot.insert(Cached { url, keys, fetched, refreshed: None }),
                }
            }
        };
        let origin = entry.url.to_string();
        if let Some(key) = lookup(&entry.keys, kid, &origin, true)? {
            return Ok(key);
        }
        if entry.refreshed.is_some_and(|at| at.elapsed() < REFRESH_INTERVAL) {
            return Err(unknown(kid, &origin, false));
        }
        tracing::info!(kid, jwks = %origin, "unknown kid: fetching the issuer's keys again");
        entry.keys = http.jwks(&entry.url)?;
        entry.fetched = Instant::now();
        entry.refreshed = Some(entry.fetched);
        lookup(&entry.keys, kid, &origin, true)?.ok_or_else(|| unknown(kid, &origin, true))
    }
}

fn lookup(keys: &KeySet, kid: &str, origin: &str, from_network: bool) -> Result<Option<FoundKey>, Error> {
    match keys.key(kid) {
        Ok(found) => Ok(found.map(|key| FoundKey { key: key.clone(), origin: origin.to_owned() })),
        Err(source) => Err(Error::Jwks { origin: origin.to_owned(), from_network, source }),
    }
}

fn unknown(kid: &str, origin: &str, refreshed: bool) -> Error {
    Rejection::UnknownKey { kid: kid.to_owned(), origin: origin.to_owned(), refreshed }.into()
}
