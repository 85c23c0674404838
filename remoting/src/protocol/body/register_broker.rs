//! REGISTER_BROKER's body: `RegisterBrokerBody` wrapping the broker's topic table
//! (`TopicConfigSerializeWrapper`) and its `DataVersion`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::topic::TopicConfig;

/// A broker's metadata version: changes whenever its topic table changes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DataVersion {
    #[serde(default)]
    pub counter: i64,
    #[serde(default)]
    pub state_version: i64,
    #[serde(default)]
    pub timestamp: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TopicConfigSerializeWrapper {
    #[serde(default)]
    pub data_version: DataVersion,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mapping_data_version: Option<DataVersion>,
    #[serde(default)]
    pub topic_config_table: BTreeMap<String, TopicConfig>,
    /// Static-topic mapping sections (5.x); carried through untouched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic_queue_mapping_detail_map: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic_queue_mapping_info_map: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RegisterBrokerBody {
    #[serde(default)]
    pub filter_server_list: Vec<String>,
    #[serde(default)]
    pub topic_config_serialize_wrapper: TopicConfigSerializeWrapper,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_5x_register_body() {
        let raw = r#"{"filterServerList":[],"topicConfigSerializeWrapper":{"dataVersion":{"counter":3,"stateVersion":0,"timestamp":1700000000000},"mappingDataVersion":{"counter":0,"stateVersion":0,"timestamp":1700000000000},"topicConfigTable":{"TopicTest":{"attributes":{},"order":false,"perm":6,"readQueueNums":4,"topicFilterType":"SINGLE_TAG","topicName":"TopicTest","topicSysFlag":0,"writeQueueNums":4}},"topicQueueMappingDetailMap":{},"topicQueueMappingInfoMap":{}}}"#;
        let b: RegisterBrokerBody = serde_json::from_str(raw).unwrap();
        let w = &b.topic_config_serialize_wrapper;
        assert_eq!(w.data_version.counter, 3);
        assert_eq!(w.topic_config_table["TopicTest"].write_queue_nums, 4);
    }

    #[test]
    fn parses_a_4x_register_body_without_5x_members() {
        let raw = r#"{"filterServerList":[],"topicConfigSerializeWrapper":{"dataVersion":{"counter":1,"timestamp":1},"topicConfigTable":{"T":{"order":false,"perm":7,"readQueueNums":8,"topicFilterType":"SINGLE_TAG","topicName":"T","topicSysFlag":0,"writeQueueNums":8}}}}"#;
        let b: RegisterBrokerBody = serde_json::from_str(raw).unwrap();
        assert_eq!(
            b.topic_config_serialize_wrapper.topic_config_table["T"].perm,
            7
        );
    }
}
