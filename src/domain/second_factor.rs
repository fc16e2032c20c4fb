//! The pure parts of second factors: authenticator-app codes (TOTP, RFC 6238: HMAC-SHA1, six
//! digits, 30-second steps, computed by `totp-rs`) and recovery codes.
//!
//! A code is accepted for the current step or the one either side (clocks drift, people type
//! slowly), and only for a step later than the last one accepted, so a code seen over a
//! shoulder or replayed from a log never works twice. Recovery codes carry 80 random bits
//! (16 characters of a 32-letter alphabet), so their SHA-256 is as safe to keep as a key's.

use rand::Rng;
use subtle::ConstantTimeEq;
use totp_rs::{Algorithm, Secret, TOTP};

/// Seconds per step.
pub const STEP_SECONDS: u64 = 30;
/// Digits per code.
pub const DIGITS: usize = 6;
/// Bytes of a new secret (160 bits, as RFC 4226 recommends).
const SECRET_BYTES: usize = 20;
/// The issuer authenticator apps show beside the account.
const ISSUER: &str = "Teamdeck";

/// How many recovery codes a set holds.
pub const RECOVERY_CODES: usize = 10;
const RECOVERY_ALPHABET: &[u8; 32] = b"abcdefghjkmnpqrstuvwxyz023456789";
const RECOVERY_CHARS: usize = 16;

/// A new authenticator secret, base32 as apps take it when typed.
pub fn new_secret() -> String {
    let bytes: [u8; SECRET_BYTES] = rand::random();
    match Secret::Raw(bytes.to_vec()).to_encoded() {
        Secret::Encoded(text) => text,
        Secret::Raw(_) => unreachable!("to_encoded gives an encoded secret"),
    }
}

fn totp(secret_base32: &str, account: &str) -> Option<TOTP> {
    let bytes = Secret::Encoded(secret_base32.to_owned()).to_bytes().ok()?;
    // `new_unchecked`: an address may hold a ':' in its quoted local part, which `new` refuses
    // in a label; the URL encodes it anyway.
    Some(TOTP::new_unchecked(
        Algorithm::SHA1,
        DIGITS,
        1,
        STEP_SECONDS,
        bytes,
        Some(ISSUER.to_owned()),
        account.to_owned(),
    ))
}

/// The `otpauth://` URL a QR code carries for `account` (the person's address).
pub fn otpauth_url(secret_base32: &str, account: &str) -> Option<String> {
    totp(secret_base32, account).map(|t| t.get_url())
}

/// The step of a moment (UTC milliseconds).
pub fn step_of(now_ms: i64) -> i64 {
    now_ms.div_euclid(1000) / STEP_SECONDS as i64
}

/// The code of `step`.
pub fn code_at(secret_base32: &str, step: i64) -> Option<String> {
    let time = u64::try_from(step).ok()? * STEP_SECONDS;
    totp(secret_base32, "").map(|t| t.generate(time))
}

/// The step `typed` is the code of, among the current one and one either side, when that
/// step is later than `last_step` (a code never works twice); `None` otherwise.
pub fn accepted_step(secret_base32: &str, typed: &str, now_ms: i64, last_step: i64) -> Option<i64> {
    let typed: String = typed.chars().filter(|c| !c.is_whitespace()).collect();
    if typed.len() != DIGITS || !typed.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let now = step_of(now_ms);
    let mut found = None;
    // Every candidate is computed and compared in constant time, whichever matches.
    for step in [now - 1, now, now + 1] {
        let code = code_at(secret_base32, step)?;
        if bool::from(code.as_bytes().ct_eq(typed.as_bytes())) && step > last_step {
            found = Some(step);
        }
    }
    found
}

/// Whether `typed` looks like a six-digit code rather than a recovery code.
pub fn looks_like_app_code(typed: &str) -> bool {
    let digits: String = typed.chars().filter(|c| !c.is_whitespace()).collect();
    digits.len() == DIGITS && digits.bytes().all(|b| b.is_ascii_digit())
}

/// A new set of recovery codes, as shown: `abcd-efgh-jkmn-pqrs`.
pub fn new_recovery_codes() -> Vec<String> {
    let mut rng = rand::rngs::OsRng;
    (0..RECOVERY_CODES)
        .map(|_| {
            let raw: String = (0..RECOVERY_CHARS).map(|_| RECOVERY_ALPHABET[rng.gen_range(0..32)] as char).collect();
            raw.as_bytes().chunks(4).map(|c| std::str::from_utf8(c).expect("ASCII")).collect::<Vec<_>>().join("-")
        })
        .collect()
}

/// A typed recovery code as it is hashed: lowercase, without spaces and dashes; `None` for
/// what cannot be one.
pub fn normalize_recovery_code(typed: &str) -> Option<String> {
    let code: String =
        typed.chars().filter(|c| !c.is_whitespace() && *c != '-').map(|c| c.to_ascii_lowercase()).collect();
    (code.len() == RECOVERY_CHARS && code.bytes().all(|b| RECOVERY_ALPHABET.contains(&b))).then_some(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 appendix B's SHA-1 secret, "12345678901234567890", in base32.
    const RFC_SECRET: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";

    #[test]
    fn codes_match_the_rfc_6238_test_vectors() {
        // T = 59 s → 94287082, T = 1111111109 s → 07081804 (eight digits); six digits are the
        // last six.
        assert_eq!(code_at(RFC_SECRET, 59 / 30).unwrap(), "287082");
        assert_eq!(code_at(RFC_SECRET, 1_111_111_109 / 30).unwrap(), "081804");
    }

    #[test]
    fn a_code_is_accepted_one_step_either_side_and_never_at_or_before_the_last_step() {
        let secret = new_secret();
        let now_ms = 1_800_000_000_000;
        let now = step_of(now_ms);
        for step in [now - 1, now, now + 1] {
            let code = code_at(&secret, step).unwrap();
            assert_eq!(accepted_step(&secret, &code, now_ms, 0), Some(step));
            assert_eq!(accepted_step(&secret, &code, now_ms, step), None, "replayed");
        }
        for step in [now - 2, now + 2] {
            let code = code_at(&secret, step).unwrap();
            let neighbours = [now - 1, now, now + 1].map(|s| code_at(&secret, s).unwrap());
            if !neighbours.contains(&code) {
                assert_eq!(accepted_step(&secret, &code, now_ms, 0), None, "outside the window");
            }
        }
        assert_eq!(accepted_step(&secret, "12345", now_ms, 0), None);
        assert_eq!(accepted_step(&secret, "abcdef", now_ms, 0), None);
    }

    #[test]
    fn recovery_codes_are_distinct_and_read_back_however_typed() {
        let codes = new_recovery_codes();
        assert_eq!(codes.len(), RECOVERY_CODES);
        let unique: std::collections::HashSet<_> = codes.iter().collect();
        assert_eq!(unique.len(), RECOVERY_CODES);
        let code = &codes[0];
        assert_eq!(code.len(), 19);
        let plain = normalize_recovery_code(code).unwrap();
        assert_eq!(normalize_recovery_code(&format!("  {} ", code.to_uppercase().replace('-', " "))), Some(plain));
        assert_eq!(normalize_recovery_code("123456"), None);
        assert!(!looks_like_app_code(code) && looks_like_app_code("123 456"));
    }

    #[test]
    fn the_url_names_the_issuer_and_the_account() {
        let url = otpauth_url(RFC_SECRET, "ada@example.com").unwrap();
        assert!(url.starts_with("otpauth://totp/Teamdeck:ada%40example.com?"), "{url}");
        assert!(url.contains("secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ") && url.contains("issuer=Teamdeck"), "{url}");
    }
}
