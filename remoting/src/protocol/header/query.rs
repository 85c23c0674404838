//! Headers of the message lookups: QUERY_MESSAGE by key and VIEW_MESSAGE_BY_ID.

use crate::command_header;

command_header! {
    /// QUERY_MESSAGE (12). Java also sends ext `_UNIQUE_KEY_QUERY` ("true" when `key` is a UNIQ_KEY).
    pub struct QueryMessageRequestHeader {
        topic: String => "topic",
        key: String => "key",
        max_num: i32 => "maxNum",
        begin_timestamp: i64 => "beginTimestamp",
        end_timestamp: i64 => "endTimestamp",
    }
}

command_header! {
    /// Response to QUERY_MESSAGE.
    pub struct QueryMessageResponseHeader {
        index_last_update_timestamp: i64 => "indexLastUpdateTimestamp",
        index_last_update_phyoffset: i64 => "indexLastUpdatePhyoffset",
    }
}

command_header! {
    /// VIEW_MESSAGE_BY_ID (33): the CommitLog offset decoded from an offset message id.
    pub struct ViewMessageRequestHeader {
        offset: i64 => "offset",
        topic: Option<String> => "topic",
    }
}
