//! What a finished call produced and cost: counted from the provider's output where the
//! price's unit allows it, otherwise the estimate.

use serde_json::Value;

use super::catalog::Unit;
use super::estimate::MilliUnits;
use crate::shared::money::Micros;

/// Units actually produced: counted from the output where the unit allows it.
/// `machine_seconds` is the running time the provider reported (queue time excluded).
pub fn produced_units(unit: Unit, estimated: MilliUnits, output: &Value, machine_seconds: Option<f64>) -> MilliUnits {
    let seconds_to_milli = |s: f64| (s.is_finite() && s > 0.0).then(|| MilliUnits((s * 1000.0).ceil() as u64));
    match unit {
        Unit::KiloTokens => match output.pointer("/usage/total_tokens").and_then(Value::as_u64) {
            // Token blocks of 1,000: total tokens are thousandths of a block.
            Some(total) => MilliUnits(total),
            None => estimated,
        },
        Unit::Image => match output.get("images").and_then(Value::as_array) {
            Some(list) => MilliUnits::whole(list.len() as u64),
            None => estimated,
        },
        Unit::Megapixel => {
            let pixels: u64 = output
                .get("images")
                .and_then(Value::as_array)
                .map(|list| {
                    list.iter()
                        .map(|i| {
                            i.get("width").and_then(Value::as_u64).unwrap_or(0)
                                * i.get("height").and_then(Value::as_u64).unwrap_or(0)
                        })
                        .sum()
                })
                .unwrap_or(0);
            if pixels == 0 { estimated } else { MilliUnits(pixels.div_ceil(1000)) }
        }
        Unit::Video => match output.get("videos").and_then(Value::as_array) {
            Some(list) if !list.is_empty() => MilliUnits::whole(list.len() as u64),
            _ => estimated,
        },
        Unit::VideoSecond => output
            .pointer("/video/duration")
            .or_else(|| output.get("duration"))
            .and_then(Value::as_f64)
            .and_then(seconds_to_milli)
            .unwrap_or(estimated),
        // Machine time the provider reports: the queue's metrics, or the output's timings.
        Unit::GpuSecond => machine_seconds
            .or_else(|| output.pointer("/timings/inference").and_then(Value::as_f64))
            .and_then(seconds_to_milli)
            .unwrap_or(estimated),
        Unit::Request => estimated,
    }
}

/// The cost a provider reported for the call (OpenRouter's `usage.cost`, in dollars),
/// rounded up to the micro-dollar.
pub fn reported_cost(output: &Value) -> Option<Micros> {
    let dollars = output.pointer("/usage/cost")?.as_f64()?;
    (dollars.is_finite() && dollars >= 0.0).then(|| Micros((dollars * 1_000_000.0).ceil() as i64))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn produced_units_come_from_the_output() {
        let est = MilliUnits(5000);
        let images = json!({"images": [{"width": 1000, "height": 1000}, {"width": 1000, "height": 500}]});
        assert_eq!(produced_units(Unit::Image, est, &images, None), MilliUnits(2000));
        assert_eq!(produced_units(Unit::Megapixel, est, &images, None), MilliUnits(1500));
        assert_eq!(
            produced_units(Unit::VideoSecond, est, &json!({"video": {"duration": 6.2}}), None),
            MilliUnits(6200)
        );
        assert_eq!(produced_units(Unit::VideoSecond, est, &json!({"video": {}}), None), est);
        assert_eq!(produced_units(Unit::GpuSecond, est, &json!({}), Some(3.2504)), MilliUnits(3251));
        assert_eq!(
            produced_units(Unit::GpuSecond, est, &json!({"timings": {"inference": 0.5}}), None),
            MilliUnits(500)
        );
        assert_eq!(produced_units(Unit::GpuSecond, est, &json!({}), Some(-1.0)), est, "a nonsense time is ignored");
        assert_eq!(
            produced_units(Unit::KiloTokens, est, &json!({"usage": {"total_tokens": 20}}), None),
            MilliUnits(20)
        );
        assert_eq!(produced_units(Unit::Request, est, &images, None), est);
    }
}
