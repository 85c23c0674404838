//! Typed views of a command's `extFields`. Every header is declared with `command_header!`,
//! which maps Rust fields to the Java field names; a plain type is mandatory (missing gives
//! Java's "the custom field <x> is null"), an `Option` is optional. Values travel as strings.

pub mod admin;
pub mod broker;
pub mod consumer;
pub mod namesrv;
pub mod query;

use super::ext_fields::ExtFields;
use crate::error::HeaderError;

/// A typed custom header.
pub trait CommandHeader: Sized {
    fn from_ext_fields(ext: &ExtFields) -> Result<Self, HeaderError>;
    fn to_ext_fields(&self) -> ExtFields;
    /// [`Self::from_ext_fields`] moving the text values out of `ext` instead of copying them
    /// (the fields read are left empty): for a hot path that is done with the request's fields.
    fn take_ext_fields(ext: &mut ExtFields) -> Result<Self, HeaderError> {
        Self::from_ext_fields(ext)
    }
}

/// A value that travels as text in ext fields, parsed as Java parses it.
pub trait ExtValue: Sized {
    fn parse_ext(s: &str) -> Option<Self>;
    fn render_ext(&self) -> String;
    /// [`Self::parse_ext`] of an owned value; gives it back when it does not parse.
    fn parse_owned(s: String) -> Result<Self, String> {
        Self::parse_ext(&s).ok_or(s)
    }
}

impl ExtValue for String {
    fn parse_ext(s: &str) -> Option<Self> {
        Some(s.to_string())
    }
    fn parse_owned(s: String) -> Result<Self, String> {
        Ok(s)
    }
    fn render_ext(&self) -> String {
        self.clone()
    }
}

macro_rules! int_ext_value {
    ($($t:ty),*) => {$(
        impl ExtValue for $t {
            fn parse_ext(s: &str) -> Option<Self> {
                s.trim().parse().ok()
            }
            fn render_ext(&self) -> String {
                self.to_string()
            }
        }
    )*};
}
int_ext_value!(i16, i32, i64, u32, u64, f64);

impl ExtValue for bool {
    /// Java's `Boolean.parseBoolean`: "true" in any case is true, anything else false.
    fn parse_ext(s: &str) -> Option<Self> {
        Some(s.eq_ignore_ascii_case("true"))
    }
    fn render_ext(&self) -> String {
        self.to_string()
    }
}

/// How one header field is read and written: mandatory (`T`) or optional (`Option<T>`).
pub trait HeaderField: Sized {
    fn read(ext: &ExtFields, name: &'static str) -> Result<Self, HeaderError>;
    fn write(&self, ext: &mut ExtFields, name: &'static str);
    /// [`Self::read`] moving the value out of `ext`.
    fn take(ext: &mut ExtFields, name: &'static str) -> Result<Self, HeaderError>;
}

impl<T: ExtValue> HeaderField for T {
    fn read(ext: &ExtFields, name: &'static str) -> Result<Self, HeaderError> {
        let raw = ext.get(name).ok_or(HeaderError::Missing(name))?;
        T::parse_ext(raw).ok_or_else(|| HeaderError::Invalid {
            field: name,
            value: raw.to_string(),
        })
    }
    fn take(ext: &mut ExtFields, name: &'static str) -> Result<Self, HeaderError> {
        let raw = ext.take(name).ok_or(HeaderError::Missing(name))?;
        T::parse_owned(raw).map_err(|value| HeaderError::Invalid { field: name, value })
    }
    fn write(&self, ext: &mut ExtFields, name: &'static str) {
        ext.insert(name, self.render_ext());
    }
}

impl<T: ExtValue> HeaderField for Option<T> {
    /// An optional field that is absent or does not parse is left unset (Java logs and skips).
    fn read(ext: &ExtFields, name: &'static str) -> Result<Self, HeaderError> {
        Ok(ext.get(name).and_then(T::parse_ext))
    }
    fn take(ext: &mut ExtFields, name: &'static str) -> Result<Self, HeaderError> {
        Ok(ext.take(name).and_then(|v| T::parse_owned(v).ok()))
    }
    fn write(&self, ext: &mut ExtFields, name: &'static str) {
        if let Some(v) = self {
            ext.insert(name, v.render_ext());
        }
    }
}

/// Declares a header struct and its `CommandHeader` impl from `rust_name: Type => "javaName"`.
#[macro_export]
macro_rules! command_header {
    ($(#[$meta:meta])* $vis:vis struct $name:ident { $($(#[$fmeta:meta])* $field:ident : $ty:ty => $key:literal),* $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Default, PartialEq)]
        $vis struct $name {
            $($(#[$fmeta])* pub $field: $ty,)*
        }

        impl $crate::protocol::header::CommandHeader for $name {
            fn from_ext_fields(
                ext: &$crate::protocol::ext_fields::ExtFields,
            ) -> Result<Self, $crate::error::HeaderError> {
                #[allow(unused_imports)]
                use $crate::protocol::header::HeaderField;
                Ok(Self { $($field: <$ty as HeaderField>::read(ext, $key)?,)* })
            }
            fn take_ext_fields(
                ext: &mut $crate::protocol::ext_fields::ExtFields,
            ) -> Result<Self, $crate::error::HeaderError> {
                #[allow(unused_imports)]
                use $crate::protocol::header::HeaderField;
                Ok(Self { $($field: <$ty as HeaderField>::take(ext, $key)?,)* })
            }
            fn to_ext_fields(&self) -> $crate::protocol::ext_fields::ExtFields {
                #[allow(unused_imports)]
                use $crate::protocol::header::HeaderField;
                #[allow(unused_mut)]
                let mut ext = $crate::protocol::ext_fields::ExtFields::new();
                $(HeaderField::write(&self.$field, &mut ext, $key);)*
                ext
            }
        }
    };
}

/// A header with no fields (Java attaches one so that `extFields` is `{}`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EmptyHeader;

impl CommandHeader for EmptyHeader {
    fn from_ext_fields(_: &ExtFields) -> Result<Self, HeaderError> {
        Ok(EmptyHeader)
    }
    fn to_ext_fields(&self) -> ExtFields {
        ExtFields::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    command_header! {
        struct Demo {
            topic: String => "topic",
            queue_id: i32 => "queueId",
            flag: Option<bool> => "flag",
        }
    }

    #[test]
    fn mandatory_missing_gives_java_remark() {
        let ext = ExtFields::new();
        let err = Demo::from_ext_fields(&ext).unwrap_err();
        assert_eq!(err.to_string(), "the custom field <topic> is null");
    }

    #[test]
    fn round_trips_and_skips_unset_options() {
        let d = Demo {
            topic: "T".into(),
            queue_id: 3,
            flag: None,
        };
        let ext = d.to_ext_fields();
        assert_eq!(ext.len(), 2);
        assert_eq!(Demo::from_ext_fields(&ext).unwrap(), d);
    }

    #[test]
    fn unparsable_mandatory_int_is_an_error_optional_is_unset() {
        let mut ext = ExtFields::new();
        ext.insert("topic", "T");
        ext.insert("queueId", "x");
        assert!(Demo::from_ext_fields(&ext).is_err());
        ext.insert("queueId", "1");
        ext.insert("flag", "TRUE");
        assert_eq!(Demo::from_ext_fields(&ext).unwrap().flag, Some(true));
    }
}
