//! `MQVersion` ordinals that change behaviour on the wire, and the version this implementation
//! reports in its responses (the Java release whose behaviour it follows).

/// V3_0_11: register-broker bodies are `RegisterBrokerBody` from this version on.
pub const V3_0_11: i32 = 37;
/// V4_1_0_SNAPSHOT: brokers from here on support SQL92 filtering.
pub const V4_1_0_SNAPSHOT: i32 = 232;
/// V4_9_3: last version that does not sign `_UNIQUE_KEY_QUERY` in ACL signatures.
pub const V4_9_3: i32 = 399;
/// V4_9_4: route data answered in standard JSON (quoted map keys) from this version on.
pub const V4_9_4: i32 = 401;
/// V4_9_8, the last 4.x release.
pub const V4_9_8: i32 = 409;
/// V5_0_0.
pub const V5_0_0: i32 = 413;
/// V5_3_3.
pub const V5_3_3: i32 = 479;

/// What our servers put in the `version` field of what they send.
pub const CURRENT_VERSION: i32 = V5_3_3;
