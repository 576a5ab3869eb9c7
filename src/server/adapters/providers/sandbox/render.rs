//! The sandbox's pictures: deterministic SVG images drawn from the prompt, and an
//! animated one standing in for a video.

use base64::Engine;

use super::Sandbox;
use crate::server::adapters::providers::fal_image_size;

impl Sandbox {
    pub(super) fn images(&self, endpoint_id: &str, input: &serde_json::Value) -> serde_json::Value {
        let prompt = input.get("prompt").and_then(serde_json::Value::as_str).unwrap_or("");
        let count = input.get("num_images").and_then(serde_json::Value::as_u64).unwrap_or(1).clamp(1, 8);
        let (width, height) = sandbox_size(input);
        let images: Vec<serde_json::Value> = (0..count)
            .map(|i| {
                let svg = render(endpoint_id, prompt, i, width, height);
                serde_json::json!({
                    "url": format!("data:image/svg+xml;base64,{}", base64::engine::general_purpose::STANDARD.encode(svg)),
                    "width": width,
                    "height": height,
                    "content_type": "image/svg+xml",
                })
            })
            .collect();
        serde_json::json!({ "images": images, "seed": seed(endpoint_id, prompt, 0), "prompt": prompt })
    }
}

/// An animated picture standing in for a video: the still for the prompt with a light
/// sweeping across it once per `seconds`.
pub(super) fn render_video(endpoint_id: &str, prompt: &str, seconds: u64) -> String {
    let still = render(endpoint_id, prompt, 0, 1280, 720);
    let sweep = format!(
        "<rect x=\"-200\" y=\"0\" width=\"200\" height=\"720\" fill=\"white\" fill-opacity=\"0.25\">\
         <animate attributeName=\"x\" from=\"-200\" to=\"1280\" dur=\"{seconds}s\" repeatCount=\"indefinite\"/></rect></svg>"
    );
    still.trim_end_matches("</svg>").to_string() + &sweep
}

fn sandbox_size(input: &serde_json::Value) -> (u64, u64) {
    match input.get("image_size") {
        Some(serde_json::Value::String(s)) => fal_image_size(s).unwrap_or((1024, 768)),
        Some(obj @ serde_json::Value::Object(_)) => (
            obj.get("width").and_then(serde_json::Value::as_u64).unwrap_or(1024),
            obj.get("height").and_then(serde_json::Value::as_u64).unwrap_or(768),
        ),
        _ => (1024, 768),
    }
}

pub(super) fn seed(endpoint_id: &str, prompt: &str, index: u64) -> u64 {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(format!("{endpoint_id}\n{prompt}\n{index}").as_bytes());
    u64::from_be_bytes(digest[..8].try_into().expect("8 bytes"))
}

/// A picture made from the prompt: two colours, circles and the prompt's words, the same
/// every time for the same input.
fn render(endpoint_id: &str, prompt: &str, index: u64, width: u64, height: u64) -> String {
    let s = seed(endpoint_id, prompt, index);
    let hue = s % 360;
    let hue2 = (hue + 40 + (s >> 9) % 120) % 360;
    let circles: String = (0..6)
        .map(|i| {
            let v = s.rotate_left(i * 11);
            format!(
                "<circle cx=\"{}\" cy=\"{}\" r=\"{}\" fill=\"hsl({},70%,{}%)\" fill-opacity=\"0.55\"/>",
                v % width,
                (v >> 16) % height,
                20 + (v >> 32) % (width / 4).max(21),
                (hue + u64::from(i) * 47) % 360,
                45 + (v >> 40) % 30
            )
        })
        .collect();
    let text = crate::shared::format::escape_xml(&prompt.chars().take(60).collect::<String>());
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\">\
         <defs><linearGradient id=\"g\" x1=\"0\" y1=\"0\" x2=\"1\" y2=\"1\">\
         <stop offset=\"0\" stop-color=\"hsl({hue},65%,55%)\"/><stop offset=\"1\" stop-color=\"hsl({hue2},65%,35%)\"/></linearGradient></defs>\
         <rect width=\"100%\" height=\"100%\" fill=\"url(#g)\"/>{circles}\
         <text x=\"50%\" y=\"92%\" text-anchor=\"middle\" font-family=\"sans-serif\" font-size=\"{}\" fill=\"white\">{text}</text></svg>",
        (height / 18).max(12)
    )
}
