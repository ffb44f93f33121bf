//! How many RSA-2048 PKCS#1 v1.5 SHA-256 signatures per second this machine makes with
//! aws-lc-rs. Used by `bench/` as the CPU bound for token issuance (REFRESH_TOKEN_AUTH signs
//! an access token and an ID token, so its bound is half this figure).
//!
//! ```text
//! cargo run --release -p gatehouse-core --example rsa_sign_bound -- --threads 2 --seconds 5
//! {"threads":2,"seconds":5.000,"signatures":1234,"signatures_per_sec":246.8}
//! ```

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::RSA_PKCS1_SHA256;

fn usage() -> ! {
    eprintln!("usage: rsa_sign_bound [--threads N] [--seconds S] [--message-bytes B]");
    std::process::exit(2)
}

fn main() {
    let mut threads: usize = 2;
    let mut seconds: f64 = 5.0;
    let mut message_bytes: usize = 800;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let value = args.next().unwrap_or_else(|| usage());
        match arg.as_str() {
            "--threads" => threads = value.parse().unwrap_or_else(|_| usage()),
            "--seconds" => seconds = value.parse().unwrap_or_else(|_| usage()),
            "--message-bytes" => message_bytes = value.parse().unwrap_or_else(|_| usage()),
            _ => usage(),
        }
    }
    if threads == 0 || !(seconds > 0.0 && seconds <= 600.0) {
        usage();
    }

    let key = match KeyPair::generate(KeySize::Rsa2048) {
        Ok(key) => key,
        Err(e) => {
            eprintln!("RSA-2048 key generation failed: {e}");
            std::process::exit(1)
        }
    };
    // Roughly the size of a JWS signing input (base64url header '.' base64url claims) of a
    // Cognito access or ID token.
    let message: Vec<u8> = (0..message_bytes).map(|i| b'A' + (i % 26) as u8).collect();
    let duration = Duration::from_secs_f64(seconds);
    let stop = AtomicBool::new(false);

    let start = Instant::now();
    let total: u64 = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let rng = SystemRandom::new();
                    let mut signature = vec![0u8; key.public_modulus_len()];
                    let mut count: u64 = 0;
                    while !stop.load(Ordering::Relaxed) {
                        if key
                            .sign(&RSA_PKCS1_SHA256, &rng, &message, &mut signature)
                            .is_err()
                        {
                            eprintln!("signing failed");
                            std::process::exit(1)
                        }
                        count += 1;
                    }
                    count
                })
            })
            .collect();
        std::thread::sleep(duration);
        stop.store(true, Ordering::Relaxed);
        workers.into_iter().map(|w| w.join().unwrap_or(0)).sum()
    });
    let elapsed = start.elapsed().as_secs_f64();

    println!(
        "{{\"threads\":{threads},\"seconds\":{elapsed:.3},\"message_bytes\":{message_bytes},\"signatures\":{total},\"signatures_per_sec\":{:.1}}}",
        total as f64 / elapsed
    );
}
