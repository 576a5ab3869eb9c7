//! A Stripe Customer per account, made once: the idempotency key is the account's, so two
//! instances asking at once get the same customer back.

use std::collections::HashMap;

use stripe::{CreateCustomer, Customer};

use super::StripeApi;
use crate::shared::error::AppError;

/// Makes the customer for `user_id` (or gets the one a retry of this request made).
pub async fn create_customer(api: StripeApi<'_>, user_id: &str, email: &str) -> Result<String, AppError> {
    let client = api.client(Some(&format!("tollgate-customer:{user_id}")));
    let mut params = CreateCustomer::new();
    params.email = Some(email);
    params.metadata = Some(HashMap::from([("tollgate_user_id".to_string(), user_id.to_string())]));
    let customer = Customer::create(&client, params).await.map_err(|e| super::refused("stripe customer", e))?;
    Ok(customer.id.to_string())
}
