//! The arithmetic of Cognito's SRP-6a, as amazon-cognito-identity-js, pycognito and
//! aws-cognito-srp compute it: the RFC 5054 3072-bit group with g = 2 and SHA-256, `padHex`,
//! the verifier, the server's `B` and session key, the password-claim signature and its
//! TIMESTAMP. Exponentiations run in constant time (crypto-bigint Montgomery form; the
//! Montgomery parameters of N are computed once).

use std::sync::OnceLock;

use crypto_bigint::modular::{MontyForm, MontyParams};
use crypto_bigint::{Odd, Zero, U256, U3072};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

type HmacSha256 = Hmac<Sha256>;
const LIMBS: usize = U3072::LIMBS;
type Monty = MontyForm<LIMBS>;

/// Bytes of an element of the group.
pub const GROUP_BYTES: usize = 384;

/// Bits of the server's secret exponent `b`: twice the 128-bit strength of the 3072-bit group
/// (NIST SP 800-56A), so a discrete log of `g^b` costs 2^128 whichever algorithm is used.
pub const SECRET_BITS: u32 = 256;

/// The RFC 5054 (RFC 3526 group 15) 3072-bit safe prime.
const N: Odd<U3072> = Odd::<U3072>::from_be_hex(concat!(
    "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD1",
    "29024E088A67CC74020BBEA63B139B22514A08798E3404DD",
    "EF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245",
    "E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED",
    "EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3D",
    "C2007CB8A163BF0598DA48361C55D39A69163FA8FD24CF5F",
    "83655D23DCA3AD961C62F356208552BB9ED529077096966D",
    "670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B",
    "E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9",
    "DE2BCBF6955817183995497CEA956AE515D2261898FA0510",
    "15728E5A8AAAC42DAD33170D04507A33A85521ABDF1CBA64",
    "ECFB850458DBEF0A8AEA71575D060C7DB3970F85A6E1E4C7",
    "ABF5AE8CDB0933D71E8C94E04A25619DCEE3D2261AD2EE6B",
    "F12FFA06D98A0864D87602733EC86A64521F2B18177B200C",
    "BBE117577A615D6C770988C0BAD946E208E24FA074E5AB31",
    "43DB5BFCE0FD108E4B82D120A93AD2CAFFFFFFFFFFFFFFFF"
));

const DERIVE_KEY_INFO: &[u8] = b"Caldera Derived Key\x01";

struct Group {
    params: MontyParams<LIMBS>,
    g: Monty,
    k: Monty,
}

fn group() -> &'static Group {
    static GROUP: OnceLock<Group> = OnceLock::new();
    GROUP.get_or_init(|| {
        // N is public: computing its parameters in variable time leaks nothing.
        let params = MontyParams::new_vartime(N);
        let g = Monty::new(&U3072::from_u8(2), params);
        // k = H(padHex(N) ‖ padHex(g))
        let mut h = Sha256::new();
        h.update(pad(&N.get()));
        h.update([2u8]);
        let k = Monty::new(&from_digest(&h.finalize().into()), params);
        Group { params, g, k }
    })
}

fn from_digest(d: &[u8; 32]) -> U3072 {
    let mut buf = [0u8; GROUP_BYTES];
    buf[GROUP_BYTES - 32..].copy_from_slice(d);
    U3072::from_be_slice(&buf)
}

/// `padHex` on bytes: the minimal big-endian form of the integer, with a leading zero byte
/// when the first byte has its top bit set (so the value reads as positive), `[0]` for zero.
pub fn pad_bytes(be: &[u8]) -> Vec<u8> {
    let start = be.iter().position(|&b| b != 0).unwrap_or(be.len());
    let minimal = &be[start..];
    let mut out = Vec::with_capacity(minimal.len() + 1);
    if minimal.first().is_none_or(|&b| b >= 0x80) {
        out.push(0);
    }
    out.extend_from_slice(minimal);
    out
}

/// `padHex` of a group element, as bytes.
pub fn pad(x: &U3072) -> Vec<u8> {
    pad_bytes(&x.to_be_bytes())
}

/// An integer from big-endian bytes; None when it does not fit in 3072 bits.
pub fn from_bytes(be: &[u8]) -> Option<U3072> {
    let start = be.iter().position(|&b| b != 0).unwrap_or(be.len());
    let minimal = &be[start..];
    if minimal.len() > GROUP_BYTES {
        return None;
    }
    let mut buf = [0u8; GROUP_BYTES];
    buf[GROUP_BYTES - minimal.len()..].copy_from_slice(minimal);
    Some(U3072::from_be_slice(&buf))
}

/// An integer from hex as the clients send it (any case, odd length allowed); None when it is
/// not hex or does not fit in 3072 bits.
pub fn from_hex(s: &str) -> Option<U3072> {
    let s = s.trim_start_matches('0');
    if s.len() > GROUP_BYTES * 2 {
        return None;
    }
    let even = if s.len() % 2 == 1 {
        format!("0{s}")
    } else {
        s.to_string()
    };
    from_bytes(&hex::decode(even).ok()?)
}

/// Lowercase hex without leading zeros (what `BigInteger.toString(16)` gives).
pub fn to_hex(x: &U3072) -> String {
    let h = hex::encode(x.to_be_bytes());
    let t = h.trim_start_matches('0');
    if t.is_empty() {
        "0".into()
    } else {
        t.into()
    }
}

/// `A mod N`, or None when it is zero (a client that sends such an A could force S = 0).
pub fn reduce_client_public(a: &U3072) -> Option<U3072> {
    let r = a.rem(N.as_nz_ref());
    if bool::from(r.is_zero()) {
        None
    } else {
        Some(r)
    }
}

/// The private key of the verifier: `x = H(padHex(salt) ‖ H(utf8(name ‖ user ‖ ":" ‖ password)))`.
/// For users `name` is the pool name and `user` USER_ID_FOR_SRP; for devices the device group
/// key and the device key.
pub fn private_key(name: &str, user: &str, password: &str, salt: &[u8]) -> U256 {
    let mut inner = Sha256::new();
    inner.update(name.as_bytes());
    inner.update(user.as_bytes());
    inner.update(b":");
    inner.update(password.as_bytes());
    let mut outer = Sha256::new();
    outer.update(pad_bytes(salt));
    outer.update(inner.finalize());
    U256::from_be_slice(&outer.finalize())
}

/// `v = g^x mod N`.
pub fn verifier(name: &str, user: &str, password: &str, salt: &[u8]) -> U3072 {
    let x = private_key(name, user, password, salt);
    group().g.pow_bounded_exp(&x, 256).retrieve()
}

/// A uniformly random value below N (for decoys).
pub fn random_element(bytes: &[u8; GROUP_BYTES]) -> U3072 {
    U3072::from_be_slice(bytes).rem(N.as_nz_ref())
}

/// The server's secret exponent from 32 random bytes.
pub fn secret_exponent(bytes: &[u8; 32]) -> U256 {
    U256::from_be_slice(bytes)
}

/// `B = (k·v + g^b) mod N`.
pub fn server_public(v: &U3072, b: &U256) -> U3072 {
    let gr = group();
    let v = Monty::new(v, gr.params);
    (gr.k * v + gr.g.pow_bounded_exp(b, SECRET_BITS)).retrieve()
}

/// Why a session key could not be derived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyFault {
    /// `A mod N == 0`.
    BadClientPublic,
    /// `u == 0`.
    ZeroScrambler,
}

/// The 16-byte key both sides derive: `u = H(padHex(A) ‖ padHex(B))`,
/// `S = (A·v^u)^b mod N`, `prk = HMAC(padHex(u), padHex(S))`,
/// `K = HMAC(prk, "Caldera Derived Key" ‖ 0x01)[0..16]`.
pub fn session_key(a: &U3072, big_b: &U3072, v: &U3072, b: &U256) -> Result<[u8; 16], KeyFault> {
    let gr = group();
    let a_red = reduce_client_public(a).ok_or(KeyFault::BadClientPublic)?;
    let mut h = Sha256::new();
    h.update(pad(a));
    h.update(pad(big_b));
    let u_bytes: [u8; 32] = h.finalize().into();
    let u = U256::from_be_slice(&u_bytes);
    if bool::from(u.is_zero()) {
        return Err(KeyFault::ZeroScrambler);
    }
    let v = Monty::new(v, gr.params);
    let base = Monty::new(&a_red, gr.params) * v.pow_bounded_exp(&u, 256);
    let s = base.pow_bounded_exp(b, SECRET_BITS).retrieve();
    Ok(derive_key(&u_bytes, &s))
}

fn hmac(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    // HMAC takes keys of any length.
    let mut mac = match HmacSha256::new_from_slice(key) {
        Ok(m) => m,
        Err(_) => return [0u8; 32],
    };
    for p in parts {
        mac.update(p);
    }
    mac.finalize().into_bytes().into()
}

fn derive_key(u: &[u8; 32], s: &U3072) -> [u8; 16] {
    let prk = hmac(&pad_bytes(u), &[&pad(s)]);
    let okm = hmac(&prk, &[DERIVE_KEY_INFO]);
    let mut k = [0u8; 16];
    k.copy_from_slice(&okm[..16]);
    k
}

/// `HMAC-SHA256(K, name ‖ user ‖ secret_block ‖ timestamp)`, the PASSWORD_CLAIM_SIGNATURE
/// (before base64).
pub fn claim_signature(
    key: &[u8; 16],
    name: &str,
    user: &str,
    secret_block: &[u8],
    timestamp: &str,
) -> [u8; 32] {
    hmac(
        key,
        &[
            name.as_bytes(),
            user.as_bytes(),
            secret_block,
            timestamp.as_bytes(),
        ],
    )
}

const WEEKDAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// Parses a TIMESTAMP like `Sun Oct 6 13:37:50 UTC 2024` (Java's `EEE MMM d HH:mm:ss z yyyy`,
/// English, UTC) into Unix seconds. The weekday must be the date's.
pub fn parse_timestamp(s: &str) -> Option<i64> {
    let parts: Vec<&str> = s.split(' ').filter(|p| !p.is_empty()).collect();
    let [wd, mon, day, hms, zone, year] = parts.as_slice() else {
        return None;
    };
    if *zone != "UTC" && *zone != "GMT" {
        return None;
    }
    let month = MONTHS.iter().position(|m| m == mon)?;
    let month = time::Month::try_from(u8::try_from(month + 1).ok()?).ok()?;
    let digits = |x: &str, min: usize, max: usize| {
        (x.len() >= min && x.len() <= max && x.bytes().all(|b| b.is_ascii_digit()))
            .then(|| x.parse::<i32>().ok())
            .flatten()
    };
    let day = u8::try_from(digits(day, 1, 2)?).ok()?;
    let year = digits(year, 4, 4)?;
    let mut t = hms.split(':');
    let (h, m, sec) = (t.next()?, t.next()?, t.next()?);
    if t.next().is_some() {
        return None;
    }
    let h = u8::try_from(digits(h, 2, 2)?).ok()?;
    let m = u8::try_from(digits(m, 2, 2)?).ok()?;
    let sec = u8::try_from(digits(sec, 2, 2)?).ok()?;
    let date = time::Date::from_calendar_date(year, month, day).ok()?;
    let weekday = WEEKDAYS[usize::from(date.weekday().number_days_from_monday())];
    if weekday != *wd {
        return None;
    }
    let clock = time::Time::from_hms(h, m, sec).ok()?;
    Some(
        time::PrimitiveDateTime::new(date, clock)
            .assume_utc()
            .unix_timestamp(),
    )
}

/// The TIMESTAMP string for Unix seconds (what clients send; used by tests and the bench).
pub fn format_timestamp(unix: i64) -> Option<String> {
    let t = time::OffsetDateTime::from_unix_timestamp(unix).ok()?;
    Some(format!(
        "{} {} {} {:02}:{:02}:{:02} UTC {}",
        WEEKDAYS[usize::from(t.weekday().number_days_from_monday())],
        MONTHS[usize::from(u8::from(t.month())) - 1],
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.year()
    ))
}

/// The client side of the exchange, for tests and the benchmark's load driver: what
/// amazon-cognito-identity-js computes, with a short secret `a` to keep it cheap.
pub mod client {
    use super::*;

    /// `A = g^a mod N`.
    pub fn public(a: &U256) -> U3072 {
        group().g.pow_bounded_exp(a, 256).retrieve()
    }

    /// K from the client's view: `S = (B − k·g^x)^(a + u·x) mod N`.
    pub fn session_key(a: &U256, big_a: &U3072, big_b: &U3072, x: &U256) -> Option<[u8; 16]> {
        let gr = group();
        let mut h = Sha256::new();
        h.update(pad(big_a));
        h.update(pad(big_b));
        let u_bytes: [u8; 32] = h.finalize().into();
        let u = U256::from_be_slice(&u_bytes);
        let gx = gr.g.pow_bounded_exp(x, 256);
        let base = Monty::new(&big_b.rem(N.as_nz_ref()), gr.params) - gr.k * gx;
        // a + u·x as a 512-bit exponent.
        let ux: crypto_bigint::U512 = u.widening_mul(x);
        let e = ux.wrapping_add(&crypto_bigint::U512::from((*a, U256::ZERO)));
        let s = base.pow_bounded_exp(&e, 512).retrieve();
        Some(derive_key(&u_bytes, &s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pad_hex_rules() {
        assert_eq!(pad_bytes(&[]), vec![0]);
        assert_eq!(pad_bytes(&[0, 0]), vec![0]);
        assert_eq!(pad_bytes(&[0x7f, 1]), vec![0x7f, 1]);
        assert_eq!(pad_bytes(&[0x80]), vec![0, 0x80]);
        assert_eq!(pad_bytes(&[0, 0, 0x0a]), vec![0x0a]);
        assert_eq!(to_hex(&U3072::from_u8(0x0a)), "a");
        assert_eq!(from_hex("00a"), Some(U3072::from_u8(10)));
        assert_eq!(from_hex("xyz"), None);
        assert_eq!(from_hex(&"f".repeat(769)), None);
    }

    #[test]
    fn k_matches_the_clients() {
        // k as amazon-cognito-identity-js computes it (hexHash(padHex(N) + padHex(g))).
        let k = group().k.retrieve();
        assert_eq!(
            to_hex(&k),
            "538282c4354742d7cbbde2359fcf67f9f5b3a6b08791e5011b43b8a5b66d9ee6"
        );
    }

    #[test]
    fn client_and_server_agree() {
        let salt = [0x9cu8; 16];
        let v = verifier("abc", "alice", "Passw0rd!", &salt);
        let b = secret_exponent(&[7u8; 32]);
        let big_b = server_public(&v, &b);
        let a = secret_exponent(&[3u8; 32]);
        let big_a = client::public(&a);
        let x = private_key("abc", "alice", "Passw0rd!", &salt);
        let ks = session_key(&big_a, &big_b, &v, &b).unwrap();
        let kc = client::session_key(&a, &big_a, &big_b, &x).unwrap();
        assert_eq!(ks, kc);
        let wrong = private_key("abc", "alice", "wrong", &salt);
        assert_ne!(client::session_key(&a, &big_a, &big_b, &wrong).unwrap(), ks);
    }

    #[test]
    fn rejects_a_multiple_of_n() {
        let v = verifier("abc", "alice", "pw", &[1]);
        let b = secret_exponent(&[7u8; 32]);
        let big_b = server_public(&v, &b);
        assert_eq!(
            session_key(&U3072::ZERO, &big_b, &v, &b),
            Err(KeyFault::BadClientPublic)
        );
        assert_eq!(
            session_key(&N.get(), &big_b, &v, &b),
            Err(KeyFault::BadClientPublic)
        );
    }

    #[test]
    fn timestamps() {
        let t = parse_timestamp("Sun Oct 6 13:37:50 UTC 2024").unwrap();
        assert_eq!(t, 1728221870);
        assert_eq!(format_timestamp(t).unwrap(), "Sun Oct 6 13:37:50 UTC 2024");
        assert_eq!(parse_timestamp("Mon Oct 6 13:37:50 UTC 2024"), None);
        assert_eq!(parse_timestamp("Sun Oct 6 13:37 UTC 2024"), None);
        assert_eq!(parse_timestamp("Sun Okt 6 13:37:50 UTC 2024"), None);
        assert_eq!(parse_timestamp("2024-10-06T13:37:50Z"), None);
        assert_eq!(parse_timestamp(""), None);
    }
}
