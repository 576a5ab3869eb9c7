//! Estimating a call's cost from its input, before anything runs.
//!
//! The number of billing units is read from the provider input the way fal models take
//! it: `num_images` and `image_size` for images and megapixels, `duration` for video
//! seconds, `max_tokens` and the prompt for token-priced chat. The estimate is what is
//! held; the effective cost after the call is computed from what was actually produced.

use serde::Serialize;
use serde_json::Value;

use super::catalog::{Price, Unit};
use crate::shared::error::AppError;
use crate::shared::money::Micros;

/// Most images one call may ask for.
pub const MAX_IMAGES: u64 = 8;
/// Longest video one call may ask for, in seconds.
pub const MAX_VIDEO_SECONDS: u64 = 60;
/// GPU time assumed for a GPU-second endpoint until it reports its own.
pub const GPU_SECONDS_ESTIMATE: u64 = 10;

/// Units are counted in thousandths, so megapixels and token blocks stay integers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct MilliUnits(pub u64);

impl MilliUnits {
    pub fn whole(n: u64) -> Self {
        Self(n * 1000)
    }

    pub fn as_f64(self) -> f64 {
        self.0 as f64 / 1000.0
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Estimate {
    pub price: Price,
    pub units: MilliUnits,
    pub cost: Micros,
}

/// `unit_price` × `units`, rounded up to the micro-dollar; never zero for a priced call.
pub fn cost_of(unit_price: Micros, units: MilliUnits) -> Result<Micros, AppError> {
    let total = i128::from(unit_price.get()) * i128::from(units.0);
    let micros = (total + 999) / 1000;
    i64::try_from(micros).map(Micros).map_err(|_| AppError::validation("input", "This request is too large to price."))
}

fn positive_int(input: &Value, field: &str, default: u64, max: u64) -> Result<u64, AppError> {
    let Some(v) = input.get(field) else { return Ok(default) };
    // fal accepts some numbers as strings ("duration": "5").
    let n = v.as_u64().or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()));
    match n {
        Some(n) if (1..=max).contains(&n) => Ok(n),
        _ => Err(AppError::validation(field, format!("{field} must be a whole number from 1 to {max}."))),
    }
}

/// Width × height of `image_size`: fal's named sizes, or `{"width": .., "height": ..}`.
fn image_pixels(input: &Value) -> Result<u64, AppError> {
    let bad = || {
        AppError::validation(
            "image_size",
            "image_size must be a named size (square_hd, square, portrait_4_3, portrait_16_9, landscape_4_3, \
             landscape_16_9) or {\"width\", \"height\"} from 64 to 4096.",
        )
    };
    match input.get("image_size") {
        None => Ok(1024 * 768),
        Some(Value::String(name)) => {
            crate::server::adapters::providers::fal_image_size(name).map(|(w, h)| w * h).ok_or_else(bad)
        }
        Some(obj @ Value::Object(_)) => {
            let side = |k: &str| obj.get(k).and_then(Value::as_u64).filter(|n| (64..=4096).contains(n));
            match (side("width"), side("height")) {
                (Some(w), Some(h)) => Ok(w * h),
                _ => Err(bad()),
            }
        }
        Some(_) => Err(bad()),
    }
}

/// The billing units `input` asks for under `unit`.
pub fn units_for(unit: Unit, input: &Value) -> Result<MilliUnits, AppError> {
    if !input.is_object() {
        return Err(AppError::validation("input", "The input must be a JSON object."));
    }
    Ok(match unit {
        Unit::Image => MilliUnits::whole(positive_int(input, "num_images", 1, MAX_IMAGES)?),
        Unit::Megapixel => {
            let images = positive_int(input, "num_images", 1, MAX_IMAGES)?;
            // Thousandths of a megapixel, rounded up.
            MilliUnits((images * image_pixels(input)?).div_ceil(1000))
        }
        Unit::VideoSecond => MilliUnits::whole(positive_int(input, "duration", 5, MAX_VIDEO_SECONDS)?),
        Unit::Video => {
            // A flat price per video, but a length no model makes is still refused here.
            positive_int(input, "duration", 5, MAX_VIDEO_SECONDS)?;
            MilliUnits::whole(1)
        }
        Unit::Request => MilliUnits::whole(1),
        Unit::GpuSecond => MilliUnits::whole(GPU_SECONDS_ESTIMATE),
        Unit::KiloTokens => {
            let max_tokens = positive_int(input, "max_tokens", 1024, 200_000)?;
            let prompt_chars: usize =
                ["prompt"].iter().filter_map(|k| input.get(*k).and_then(Value::as_str)).map(str::len).sum::<usize>()
                    + input
                        .get("messages")
                        .and_then(Value::as_array)
                        .map(|m| m.iter().filter_map(|x| x.get("content").and_then(Value::as_str)).map(str::len).sum())
                        .unwrap_or(0);
            // About four characters a token; the reply may use all of max_tokens.
            let tokens = (prompt_chars as u64).div_ceil(4) + max_tokens;
            MilliUnits(tokens)
        }
    })
}

pub fn estimate(price: Price, input: &Value) -> Result<Estimate, AppError> {
    let units = units_for(price.unit, input)?;
    let cost = cost_of(price.unit_price, units)?;
    Ok(Estimate { price, units, cost })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn units_follow_the_input() {
        assert_eq!(units_for(Unit::Image, &json!({})).unwrap(), MilliUnits(1000));
        assert_eq!(units_for(Unit::Image, &json!({"num_images": 4})).unwrap(), MilliUnits(4000));
        assert_eq!(units_for(Unit::Megapixel, &json!({"image_size": "square_hd"})).unwrap(), MilliUnits(1049));
        let custom = json!({"num_images": 2, "image_size": {"width": 1000, "height": 1000}});
        assert_eq!(units_for(Unit::Megapixel, &custom).unwrap(), MilliUnits(2000));
        assert_eq!(units_for(Unit::VideoSecond, &json!({"duration": "10"})).unwrap(), MilliUnits(10_000));
        assert_eq!(units_for(Unit::Video, &json!({"duration": 10})).unwrap(), MilliUnits(1000));
        let chat = json!({"messages": [{"role": "user", "content": "12345678"}], "max_tokens": 998});
        assert_eq!(units_for(Unit::KiloTokens, &chat).unwrap(), MilliUnits(1000));
    }

    #[test]
    fn bad_input_names_the_field() {
        for (unit, input, field) in [
            (Unit::Image, json!({"num_images": 0}), "num_images"),
            (Unit::Image, json!({"num_images": 9}), "num_images"),
            (Unit::Image, json!({"num_images": "lots"}), "num_images"),
            (Unit::Megapixel, json!({"image_size": "huge"}), "image_size"),
            (Unit::Megapixel, json!({"image_size": {"width": 10, "height": 10}}), "image_size"),
            (Unit::VideoSecond, json!({"duration": 600}), "duration"),
            (Unit::Video, json!({"duration": 0}), "duration"),
            (Unit::Request, json!([1, 2]), "input"),
        ] {
            match units_for(unit, &input) {
                Err(AppError::Validation { field: f, .. }) => assert_eq!(f, field, "{input}"),
                other => panic!("{input}: {other:?}"),
            }
        }
    }

    #[test]
    fn costs_round_up_to_the_micro_dollar() {
        assert_eq!(cost_of(Micros(3_000), MilliUnits(4000)).unwrap(), Micros(12_000));
        assert_eq!(cost_of(Micros(25_000), MilliUnits(1049)).unwrap(), Micros(26_225));
        assert_eq!(cost_of(Micros(1), MilliUnits(1)).unwrap(), Micros(1), "never rounds a priced call to zero");
    }
}
