//! The outside services Tollgate talks to: Stripe Checkout and the AI providers (fal,
//! OpenRouter), each over real HTTP at a configured base or played by the sandbox.

pub mod providers;
pub mod stripe;
pub mod webhooks;
