//! Password hashing with argon2id, off the async runtime.

use std::sync::LazyLock;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

use crate::shared::error::AppError;

pub const MIN_PASSWORD_CHARS: usize = 8;
pub const MAX_PASSWORD_CHARS: usize = 128;

/// OWASP's recommended argon2id settings: 19 MiB of memory, 2 passes, 1 lane.
fn hasher() -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, Params::new(19 * 1024, 2, 1, None).expect("valid argon2 params"))
}

/// A hash of a password nobody has, checked when the email is unknown so that an
/// unknown email takes as long as a wrong password.
static DUMMY_HASH: LazyLock<String> = LazyLock::new(|| hash_blocking("not a real password, only for timing"));

fn hash_blocking(password: &str) -> String {
    let salt = SaltString::generate(&mut OsRng);
    hasher()
        .hash_password(password.as_bytes(), &salt)
        .expect("argon2 hashing cannot fail with valid params")
        .to_string()
}

fn verify_blocking(password: &str, phc: &str) -> bool {
    match PasswordHash::new(phc) {
        Ok(parsed) => hasher().verify_password(password.as_bytes(), &parsed).is_ok(),
        Err(_) => false,
    }
}

/// Checks the length rule; the message is shown next to the password field.
pub fn validate(password: &str) -> Result<(), AppError> {
    let chars = password.chars().count();
    if chars < MIN_PASSWORD_CHARS {
        return Err(AppError::validation("password", format!("Use at least {MIN_PASSWORD_CHARS} characters.")));
    }
    if chars > MAX_PASSWORD_CHARS {
        return Err(AppError::validation("password", format!("Use at most {MAX_PASSWORD_CHARS} characters.")));
    }
    Ok(())
}

/// Each hash takes 19 MiB and a core for a while; this many run at once and the rest
/// wait their turn, so a flood of sign-ins cannot exhaust memory.
static HASH_SLOTS: LazyLock<tokio::sync::Semaphore> = LazyLock::new(|| {
    let cores = std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get);
    tokio::sync::Semaphore::new(cores.max(2))
});

async fn run_hashing<T: Send + 'static>(
    what: &'static str,
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, AppError> {
    let _slot = HASH_SLOTS.acquire().await.map_err(|e| AppError::internal(what, e))?;
    tokio::task::spawn_blocking(work).await.map_err(|e| AppError::internal(what, e))
}

pub async fn hash(password: String) -> Result<String, AppError> {
    run_hashing("password hashing", move || hash_blocking(&password)).await
}

/// Verifies against `phc`, or against a dummy hash when there is no user, so both
/// cases cost the same.
pub async fn verify(password: String, phc: Option<String>) -> Result<bool, AppError> {
    run_hashing("password check", move || match phc {
        Some(phc) => verify_blocking(&password, &phc),
        None => {
            let _ = verify_blocking(&password, &DUMMY_HASH);
            false
        }
    })
    .await
}

/// Makes the dummy hash now rather than on the first unknown-email sign-in, whose
/// timing would otherwise give it away.
pub fn warm_up() {
    LazyLock::force(&DUMMY_HASH);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_argon2id_with_owasp_parameters_and_salted() {
        let a = hash_blocking("correct horse");
        let b = hash_blocking("correct horse");
        assert!(a.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{a}");
        assert_ne!(a, b, "every hash has its own salt");
        assert!(verify_blocking("correct horse", &a));
        assert!(!verify_blocking("correct horsf", &a));
        assert!(!verify_blocking("correct horse", "not a hash"));
    }

    #[test]
    fn passwords_must_be_8_to_128_characters() {
        assert!(validate("1234567").is_err());
        assert!(validate("12345678").is_ok());
        assert!(validate(&"é".repeat(128)).is_ok(), "characters, not bytes");
        assert!(validate(&"x".repeat(129)).is_err());
    }
}
