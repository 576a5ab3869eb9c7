//! The outside services Tollgate talks to: Stripe Checkout and the AI providers (fal,
//! OpenRouter), each over real HTTP at a configured base or played by the sandbox; the
//! app's own webhooks; and a mail server for notice emails.

pub mod email;
pub mod providers;
pub mod stripe;
pub mod webhooks;
