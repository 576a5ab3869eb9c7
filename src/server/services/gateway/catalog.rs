//! The price catalog: each endpoint's unit price and billing unit.
//!
//! The catalog is a CSV file (the built-in one is `prices.csv` next to this module;
//! `price_catalog` names another). It is checked whole at start: a price that is zero,
//! negative or not a number, an unknown unit, provider or operation, or an endpoint listed
//! twice stops start-up with the file and line named.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::shared::dto::keys::Provider;
use crate::shared::endpoint::EndpointId;
use crate::shared::format::model_name;
use crate::shared::money::Micros;

pub const BUILTIN: &str = include_str!("prices.csv");

/// What an endpoint is billed by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    Image,
    Megapixel,
    VideoSecond,
    Video,
    Request,
    GpuSecond,
    #[serde(rename = "1k_tokens")]
    KiloTokens,
}

impl Unit {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "image" => Self::Image,
            "megapixel" => Self::Megapixel,
            "video_second" => Self::VideoSecond,
            "video" => Self::Video,
            "request" => Self::Request,
            "gpu_second" => Self::GpuSecond,
            "1k_tokens" => Self::KiloTokens,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Image => "image",
            Self::Megapixel => "megapixel",
            Self::VideoSecond => "video_second",
            Self::Video => "video",
            Self::Request => "request",
            Self::GpuSecond => "gpu_second",
            Self::KiloTokens => "1k_tokens",
        }
    }
}

/// What a call does, as usage records name it.
pub const OPERATIONS: &[&str] = &["generateImage", "editImage", "removeBackground", "upscale", "run", "chat"];

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Price {
    pub endpoint_id: EndpointId,
    pub provider: Provider,
    pub unit: Unit,
    pub unit_price: Micros,
    pub operation: &'static str,
    pub category: String,
    /// The category's default endpoint.
    pub default: bool,
    /// What people are shown (`FLUX.1 [schnell]`): the catalog's name, else one made
    /// from the endpoint id.
    pub name: String,
    /// Not in the catalog: the price for unknown endpoints.
    pub listed: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{source_name} line {line}: {message}")]
pub struct CatalogError {
    pub source_name: String,
    pub line: usize,
    pub message: String,
}

#[derive(Clone, Debug)]
pub struct Catalog {
    prices: BTreeMap<String, Price>,
    unknown_price: Micros,
}

const HEADER: &str = "endpoint_id,provider,unit,unit_price_usd,operation,category,default,name";

/// The header of catalogs written before models had display names; their models are
/// shown with names made from their ids.
const HEADER_WITHOUT_NAMES: &str = "endpoint_id,provider,unit,unit_price_usd,operation,category,default";

impl Catalog {
    /// Reads a catalog; `source_name` is how errors name the file.
    pub fn parse(text: &str, source_name: &str, unknown_price: Micros) -> Result<Self, CatalogError> {
        let err = |line: usize, message: String| CatalogError { source_name: source_name.to_string(), line, message };
        let mut prices = BTreeMap::new();
        let mut saw_header = false;
        let mut columns = 8;
        let mut defaults: BTreeMap<String, usize> = BTreeMap::new();
        for (index, raw) in text.lines().enumerate() {
            let line = index + 1;
            let row = raw.trim();
            if row.is_empty() || row.starts_with('#') {
                continue;
            }
            if !saw_header {
                columns = match row.replace(' ', "").as_str() {
                    HEADER => 8,
                    HEADER_WITHOUT_NAMES => 7,
                    _ => return Err(err(line, format!("the first row must be the header `{HEADER}`"))),
                };
                saw_header = true;
                continue;
            }
            let cells: Vec<&str> = row.split(',').map(str::trim).collect();
            if cells.len() != columns {
                return Err(err(line, format!("expected {columns} columns, found {}", cells.len())));
            }
            let endpoint_id = EndpointId::parse(cells[0])
                .map_err(|e| err(line, format!("`{}` is not an endpoint id: {e}", cells[0])))?;
            let provider = Provider::parse(cells[1])
                .ok_or_else(|| err(line, format!("unknown provider `{}`; use fal or openrouter", cells[1])))?;
            let unit = Unit::parse(cells[2]).ok_or_else(|| {
                err(
                    line,
                    format!(
                        "unknown unit `{}`; use image, megapixel, video_second, video, request, gpu_second or 1k_tokens",
                        cells[2]
                    ),
                )
            })?;
            let unit_price = Micros::parse(cells[3])
                .map_err(|e| err(line, format!("price `{}` is not a number of dollars ({e})", cells[3])))?;
            if !unit_price.is_positive() {
                return Err(err(line, format!("price `{}` must be more than zero", cells[3])));
            }
            let operation = OPERATIONS.iter().find(|o| **o == cells[4]).copied().ok_or_else(|| {
                err(line, format!("unknown operation `{}`; use one of {}", cells[4], OPERATIONS.join(", ")))
            })?;
            let category = cells[5].to_string();
            let default = match cells[6] {
                "" => false,
                "default" => true,
                other => return Err(err(line, format!("the last column is `default` or empty, not `{other}`"))),
            };
            if default && let Some(first) = defaults.insert(category.clone(), line) {
                return Err(err(line, format!("category `{category}` already has a default (line {first})")));
            }
            let name = match cells.get(7).copied().unwrap_or_default() {
                "" => model_name(endpoint_id.as_str()),
                named => named.to_string(),
            };
            let key = endpoint_id.as_str().to_string();
            let price =
                Price { endpoint_id, provider, unit, unit_price, operation, category, default, name, listed: true };
            if prices.insert(key, price).is_some() {
                return Err(err(line, format!("`{}` is listed twice", cells[0])));
            }
        }
        if !saw_header {
            return Err(err(1, format!("the catalog is empty; it needs the header `{HEADER}`")));
        }
        Ok(Self { prices, unknown_price })
    }

    pub fn builtin(unknown_price: Micros) -> Self {
        Self::parse(BUILTIN, "prices.csv", unknown_price).expect("the built-in catalog is valid")
    }

    /// The listed price, or the unknown-endpoint price (per request) for anything else.
    pub fn price(&self, endpoint_id: &EndpointId) -> Price {
        self.prices.get(endpoint_id.as_str()).cloned().unwrap_or_else(|| Price {
            endpoint_id: endpoint_id.clone(),
            provider: if endpoint_id.openrouter_model().is_some() { Provider::OpenRouter } else { Provider::Fal },
            unit: Unit::Request,
            unit_price: self.unknown_price,
            operation: "run",
            category: "other".into(),
            default: false,
            name: model_name(endpoint_id.as_str()),
            listed: false,
        })
    }

    /// What people are shown for `endpoint_id`: the catalog's name for a listed model,
    /// else one made from the id (a model no longer listed, say).
    pub fn name_of(&self, endpoint_id: &str) -> String {
        match self.prices.get(endpoint_id) {
            Some(p) => p.name.clone(),
            None => model_name(endpoint_id),
        }
    }

    pub fn is_listed(&self, endpoint_id: &str) -> bool {
        self.prices.contains_key(endpoint_id)
    }

    /// Listed prices in endpoint order, from just after `after`.
    pub fn page(&self, after: Option<&str>, limit: usize) -> (Vec<Price>, bool) {
        use std::ops::Bound;
        let start = match after {
            Some(a) => Bound::Excluded(a.to_string()),
            None => Bound::Unbounded,
        };
        let mut iter = self.prices.range((start, Bound::Unbounded)).map(|(_, p)| p.clone());
        let page: Vec<Price> = iter.by_ref().take(limit).collect();
        let more = iter.next().is_some();
        (page, more)
    }

    pub fn len(&self) -> usize {
        self.prices.len()
    }

    pub fn is_empty(&self) -> bool {
        self.prices.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(raw: &str) -> EndpointId {
        EndpointId::parse(raw).unwrap()
    }

    fn parse(text: &str) -> Result<Catalog, CatalogError> {
        Catalog::parse(text, "test.csv", Micros::parse("0.05").unwrap())
    }

    #[test]
    fn the_builtin_catalog_has_every_model_of_the_table() {
        let c = Catalog::builtin(Micros::parse("0.05").unwrap());
        assert_eq!(c.len(), 30);
        let schnell = c.price(&id("fal-ai/flux/schnell"));
        assert_eq!((schnell.unit, schnell.unit_price.get(), schnell.default), (Unit::Image, 3_000, true));
        assert_eq!(c.price(&id("fal-ai/veo2")).unit_price.get(), 500_000);
        assert_eq!(c.price(&id("fal-ai/kling-video/v1.5/pro/text-to-video")).unit, Unit::Video);
        assert_eq!(c.price(&id("fal-ai/birefnet")).operation, "removeBackground");
        let unknown = c.price(&id("fal-ai/something-new"));
        assert_eq!((unknown.unit, unknown.unit_price.get(), unknown.listed), (Unit::Request, 50_000, false));
    }

    #[test]
    fn bad_rows_are_refused_with_their_line() {
        let head = format!("# comment\n{HEADER}\n");
        for (row, expect) in [
            ("a/b,fal,image,0,generateImage,x,,", "must be more than zero"),
            ("a/b,fal,image,-0.01,generateImage,x,,", "must be more than zero"),
            ("a/b,fal,image,cheap,generateImage,x,,", "is not a number"),
            ("a/b,fal,frames,0.01,generateImage,x,,", "unknown unit `frames`"),
            ("a/b,replicate,image,0.01,generateImage,x,,", "unknown provider"),
            ("a/b,fal,image,0.01,paint,x,,", "unknown operation"),
            ("a/b,fal,image,0.01", "expected 8 columns"),
            ("a/b,fal,image,0.01,generateImage,x,", "expected 8 columns"),
            ("a b,fal,image,0.01,generateImage,x,,", "not an endpoint id"),
            ("http://evil.example/x,fal,image,0.01,generateImage,x,,", "not an endpoint id"),
        ] {
            let e = parse(&format!("{head}{row}\n")).unwrap_err();
            assert_eq!(e.line, 3, "{row}");
            assert!(e.message.contains(expect), "{row}: {}", e.message);
            assert!(e.to_string().starts_with("test.csv line 3: "));
        }
        let twice = format!("{head}a/b,fal,image,0.01,generateImage,x,,\na/b,fal,image,0.02,generateImage,x,,\n");
        assert_eq!(parse(&twice).unwrap_err().line, 4);
        let defaults =
            format!("{head}a/b,fal,image,0.01,generateImage,x,default,\na/c,fal,image,0.02,generateImage,x,default,\n");
        assert!(parse(&defaults).unwrap_err().message.contains("already has a default (line 3)"));
        assert!(parse("a/b,fal,image,0.01,generateImage,x,\n").unwrap_err().message.contains("header"));
        assert!(parse("").is_err());
    }

    #[test]
    fn models_are_shown_by_name_and_older_catalogs_without_names_still_load() {
        let c = Catalog::builtin(Micros::parse("0.05").unwrap());
        assert_eq!(c.name_of("fal-ai/flux/schnell"), "FLUX.1 [schnell]");
        assert!(c.page(None, 100).0.iter().all(|p| !p.name.is_empty() && !p.name.contains('/')));
        // Not listed: a name made from the id.
        assert_eq!(c.name_of("fal-ai/some-new-model/v2"), "Some New Model v2");
        let old =
            parse(&format!("{HEADER_WITHOUT_NAMES}\nfal-ai/flux/dev,fal,image,0.025,generateImage,x,\n")).unwrap();
        assert_eq!(old.name_of("fal-ai/flux/dev"), "Flux Dev");
        let named = parse(&format!("{HEADER}\nfal-ai/flux/dev,fal,image,0.025,generateImage,x,,My model\n")).unwrap();
        assert_eq!(named.price(&id("fal-ai/flux/dev")).name, "My model");
    }

    #[test]
    fn pages_follow_endpoint_order() {
        let c = Catalog::builtin(Micros::parse("0.05").unwrap());
        let (first, more) = c.page(None, 10);
        assert_eq!(first.len(), 10);
        assert!(more);
        let (second, _) = c.page(Some(first[9].endpoint_id.as_str()), 10);
        assert!(second[0].endpoint_id > first[9].endpoint_id);
        let (all, more) = c.page(None, 100);
        assert_eq!((all.len(), more), (30, false));
    }
}
