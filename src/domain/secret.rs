//! Credentials handed to programs: team API keys (`tdk_…`) and login tokens (`tdt_…`).
//!
//! Format: `PREFIX` + public id (10 chars) + `_` + secret (32 chars, ≥ 190 bits from the OS
//! CSPRNG) + checksum (6 hex chars of SHA-256 over the rest), so a leaked key is recognisable
//! offline and a mistyped one is refused before any lookup. Only SHA-256 of the secret is
//! stored; verification is one lookup by the public id and a constant-time comparison.

use rand::Rng;
use rand::distributions::Alphanumeric;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

pub const KEY_PREFIX: &str = "tdk_";
pub const TOKEN_PREFIX: &str = "tdt_";
const PUBLIC_LEN: usize = 10;
const SECRET_LEN: usize = 32;
const CHECK_LEN: usize = 6;

/// A freshly made credential: `full` is shown once and never stored.
pub struct Minted {
    pub full: String,
    pub public_id: String,
    pub secret_hash: String,
    pub last4: String,
}

/// The first `CHECK_LEN` hex digits of SHA-256 over `body`. Only the bytes shown are encoded:
/// every API call checks a key, and `hex::encode` goes one `char` at a time.
fn checksum(body: &str) -> String {
    hex::encode(&Sha256::digest(body.as_bytes())[..CHECK_LEN / 2])
}

/// SHA-256 of a secret in lower-case hex, as stored.
pub fn hash_secret(secret: &str) -> String {
    let mut out = [0u8; 64];
    // Cannot fail: 32 bytes take exactly 64 hex digits, which are ASCII.
    hex::encode_to_slice(Sha256::digest(secret.as_bytes()), &mut out).expect("64 hex digits for 32 bytes");
    String::from_utf8(out.to_vec()).expect("hex digits are ASCII")
}

pub fn mint(prefix: &str) -> Minted {
    let mut rng = rand::rngs::OsRng;
    let public_id: String =
        (0..PUBLIC_LEN).map(|_| b"abcdefghijkmnpqrstuvwxyz23456789"[rng.gen_range(0..32)] as char).collect();
    mint_for(prefix, public_id)
}

/// A new secret under an existing public id (a rotated key keeps its id: both secrets are
/// found by the one lookup).
pub fn mint_for(prefix: &str, public_id: String) -> Minted {
    let mut rng = rand::rngs::OsRng;
    let secret: String = (&mut rng).sample_iter(&Alphanumeric).take(SECRET_LEN).map(char::from).collect();
    let body = format!("{prefix}{public_id}_{secret}");
    let full = format!("{body}{}", checksum(&body));
    let last4 = full[full.len() - 4..].to_owned();
    Minted { secret_hash: hash_secret(&secret), public_id, full, last4 }
}

/// The public id and the hash of the secret of a well-formed credential with `prefix`.
pub fn parse(prefix: &str, presented: &str) -> Option<(String, String)> {
    let rest = presented.trim().strip_prefix(prefix)?;
    let (public_id, tail) = rest.split_once('_')?;
    if public_id.len() != PUBLIC_LEN || tail.len() != SECRET_LEN + CHECK_LEN || !tail.is_ascii() {
        return None;
    }
    let (secret, check) = tail.split_at(SECRET_LEN);
    let body = &presented.trim()[..presented.trim().len() - CHECK_LEN];
    if !bool::from(checksum(body).as_bytes().ct_eq(check.as_bytes())) {
        return None;
    }
    Some((public_id.to_owned(), hash_secret(secret)))
}

/// Whether a presented secret's hash equals the stored one, in constant time.
pub fn hashes_match(presented: &str, stored: &str) -> bool {
    bool::from(presented.as_bytes().ct_eq(stored.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_minted_key_parses_back_to_its_id_and_hash() {
        let key = mint(KEY_PREFIX);
        assert!(key.full.starts_with("tdk_") && key.full.len() == 4 + 10 + 1 + 32 + 6);
        assert_eq!(parse(KEY_PREFIX, &key.full), Some((key.public_id.clone(), key.secret_hash.clone())));
        assert!(key.full.ends_with(&key.last4));
        assert!(!key.full.contains(&key.secret_hash), "the stored hash is not in the key");
    }

    #[test]
    fn mistyped_or_foreign_credentials_are_refused_before_any_lookup() {
        let key = mint(KEY_PREFIX);
        let mut typo = key.full.clone();
        let last = typo.pop().unwrap();
        typo.push(if last == 'a' { 'b' } else { 'a' });
        assert_eq!(parse(KEY_PREFIX, &typo), None, "the checksum catches a typo");
        assert_eq!(parse(TOKEN_PREFIX, &key.full), None, "a key is not a token");
        assert_eq!(parse(KEY_PREFIX, "tdk_short"), None);
        assert_eq!(parse(KEY_PREFIX, ""), None);
    }

    #[test]
    fn the_stored_hash_and_the_checksum_are_sha256_in_lower_case_hex() {
        // SHA-256("abc"), FIPS 180-2 appendix B.1.
        let abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        assert_eq!(hash_secret("abc"), abc);
        assert_eq!(checksum("abc"), abc[..CHECK_LEN]);
    }

    #[test]
    fn two_keys_never_share_a_secret() {
        assert_ne!(mint(KEY_PREFIX).secret_hash, mint(KEY_PREFIX).secret_hash);
    }
}
