//! The `event_family!` macro: one enum per stream category, and its wire form.

/// Declares an event family: an enum with one variant per event type, each wrapping its
/// payload struct, and implements [`crate::EventFamily`] for it (plus the same methods as
/// inherent methods, `CATEGORY`/`EVENT_TYPES` consts and `From<Payload>` for each variant).
///
/// ```ignore
/// event_family! {
///     /// Docs of the enum.
///     pub enum SchoolEvent in "school" {
///         /// Docs of the variant.
///         Registered(SchoolRegistered) = "school-registered",
///     }
/// }
/// ```
macro_rules! event_family {
    (
        $(#[$meta:meta])*
        pub enum $family:ident in $category:literal {
            $(
                $(#[$vmeta:meta])*
                $variant:ident($payload:ty) = $event_type:literal
            ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        // Variants differ in size (a submission is much larger than a removal); boxing them
        // would complicate every match for no measurable gain.
        #[allow(clippy::large_enum_variant)]
        #[derive(Debug, Clone, PartialEq)]
        pub enum $family {
            $( $(#[$vmeta])* $variant($payload), )+
        }

        impl $family {
            /// The stream category these events are written to.
            pub const CATEGORY: &'static str = $category;
            /// Every event type of the family, in declaration order.
            pub const EVENT_TYPES: &'static [&'static str] = &[$($event_type),+];

            /// The event's type on the wire.
            pub fn event_type(&self) -> &'static str {
                match self {
                    $( Self::$variant(_) => $event_type, )+
                }
            }

            /// The event's data: its payload, as JSON.
            pub fn to_data(&self) -> ::serde_json::Value {
                let data = match self {
                    $( Self::$variant(payload) => ::serde_json::to_value(payload), )+
                };
                // Payloads are plain structs of strings, numbers, booleans and lists:
                // serializing them cannot fail.
                data.expect("event payloads always serialize to JSON")
            }

            /// The event from its type and data, as read from the log.
            pub fn from_parts(
                event_type: &str,
                data: &::serde_json::Value,
            ) -> Result<Self, $crate::DecodeError> {
                match event_type {
                    $(
                        $event_type => <$payload as ::serde::Deserialize>::deserialize(data)
                            .map(Self::$variant)
                            .map_err(|source| $crate::DecodeError::InvalidData {
                                event_type: $event_type,
                                source,
                            }),
                    )+
                    other => Err($crate::DecodeError::UnknownType {
                        category: $category,
                        event_type: other.to_owned(),
                    }),
                }
            }

            /// Every event type of the family with its data's schema.
            pub fn event_schemas() -> Vec<$crate::EventSchema> {
                vec![ $( $crate::EventSchema::of::<$payload>($event_type, $category), )+ ]
            }
        }

        $(
            impl From<$payload> for $family {
                fn from(payload: $payload) -> Self {
                    Self::$variant(payload)
                }
            }
        )+

        impl $crate::EventFamily for $family {
            const CATEGORY: &'static str = $category;
            const EVENT_TYPES: &'static [&'static str] = &[$($event_type),+];

            fn event_type(&self) -> &'static str {
                $family::event_type(self)
            }

            fn to_data(&self) -> ::serde_json::Value {
                $family::to_data(self)
            }

            fn from_parts(
                event_type: &str,
                data: &::serde_json::Value,
            ) -> Result<Self, $crate::DecodeError> {
                $family::from_parts(event_type, data)
            }

            fn event_schemas() -> Vec<$crate::EventSchema> {
                $family::event_schemas()
            }
        }
    };
}
