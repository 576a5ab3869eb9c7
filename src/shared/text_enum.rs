//! Enums kept as text in the database, in JSON and in links: one spelling per variant,
//! declared once, so the SQL column, the wire and the page read the same word, and a word
//! that is not one of them is an error rather than a guess.

use std::fmt;

/// A stored or sent word that names no variant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownValue {
    pub what: &'static str,
    pub value: String,
}

impl fmt::Display for UnknownValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown {} {:?}", self.what, self.value)
    }
}

impl std::error::Error for UnknownValue {}

/// Declares an enum whose variants are written as the given words: `as_str`, `parse`,
/// `FromStr` (an unknown word is an [`UnknownValue`]), `Display`, and serde as the word.
macro_rules! text_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $($(#[$vmeta:meta])* $variant:ident = $text:literal),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        $vis enum $name {
            $($(#[$vmeta])* $variant),+
        }

        impl $name {
            /// Every variant, in declaration order.
            pub const ALL: &'static [Self] = &[$(Self::$variant),+];

            /// The word stored and sent for this variant.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $text),+
                }
            }

            /// The variant `word` names, if any.
            pub fn parse(word: &str) -> Option<Self> {
                match word {
                    $($text => Some(Self::$variant),)+
                    _ => None,
                }
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = $crate::shared::text_enum::UnknownValue;

            fn from_str(word: &str) -> Result<Self, Self::Err> {
                Self::parse(word).ok_or_else(|| $crate::shared::text_enum::UnknownValue {
                    what: stringify!($name),
                    value: word.to_string(),
                })
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let word = <::std::borrow::Cow<'de, str> as ::serde::Deserialize>::deserialize(d)?;
                word.parse().map_err(<D::Error as ::serde::de::Error>::custom)
            }
        }
    };
}

pub(crate) use text_enum;

#[cfg(test)]
mod tests {
    text_enum! {
        enum Light {
            Red = "red",
            Green = "green",
        }
    }

    #[test]
    fn words_round_trip_and_unknown_words_are_errors() {
        for light in Light::ALL {
            assert_eq!(light.as_str().parse::<Light>(), Ok(*light));
            let json = serde_json::to_string(light).unwrap();
            assert_eq!(serde_json::from_str::<Light>(&json).unwrap(), *light);
        }
        assert_eq!(Light::Green.to_string(), "green");
        let err = "Red".parse::<Light>().unwrap_err();
        assert_eq!(err.to_string(), "unknown Light \"Red\"");
        assert!(serde_json::from_str::<Light>("\"amber\"").is_err());
    }
}
