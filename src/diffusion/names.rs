//! Named enums: every config enum has a menu order (`ALL`), a command-line
//! name, `Display` and `FromStr`, generated here once.

/// Parses `s` as one of `all` by `name` (case-insensitive, `_` taken as `-`),
/// with an error that lists the choices.
pub(crate) fn parse_named<T: Copy>(s: &str, all: &[T], name: fn(T) -> &'static str, what: &str) -> Result<T, String> {
    let wanted = s.trim().to_ascii_lowercase().replace('_', "-");
    all.iter().copied().find(|k| name(*k) == wanted).ok_or_else(|| {
        let names: Vec<_> = all.iter().map(|k| name(*k)).collect();
        format!("unknown {what} '{s}' (expected one of: {})", names.join(", "))
    })
}

/// `named_enum!(Type, "what it is", [Variant => "name", ...])` gives `Type`
/// `ALL` (in the listed order), `name()`, `Display` and `FromStr`.
macro_rules! named_enum {
    ($ty:ident, $what:literal, [$($variant:ident => $name:literal),+ $(,)?]) => {
        impl $ty {
            /// Every value, in menu order.
            pub const ALL: &'static [Self] = &[$(Self::$variant),+];

            /// The name used on the command line, in files and in menus.
            #[must_use]
            pub fn name(self) -> &'static str {
                match self {
                    $(Self::$variant => $name),+
                }
            }
        }

        impl std::fmt::Display for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.name())
            }
        }

        impl std::str::FromStr for $ty {
            type Err = String;

            fn from_str(s: &str) -> Result<Self, String> {
                $crate::diffusion::names::parse_named(s, Self::ALL, Self::name, $what)
            }
        }
    };
}
