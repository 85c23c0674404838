//! HEART_BEAT's body (`HeartbeatData`) and the consumer list answer. Read leniently: Go sends
//! `codeSet` items as strings and `subVersion` in nanoseconds; unknown members are ignored.

use serde::{Deserialize, Deserializer, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HeartbeatData {
    #[serde(rename = "clientID", default)]
    pub client_id: String,
    #[serde(default)]
    pub consumer_data_set: Vec<ConsumerData>,
    #[serde(default)]
    pub producer_data_set: Vec<ProducerData>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProducerData {
    #[serde(default)]
    pub group_name: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConsumerData {
    #[serde(default)]
    pub consume_from_where: String,
    #[serde(default)]
    pub consume_type: String,
    #[serde(default)]
    pub group_name: String,
    #[serde(default)]
    pub message_model: String,
    #[serde(default)]
    pub subscription_data_set: Vec<SubscriptionData>,
    #[serde(default)]
    pub unit_mode: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SubscriptionData {
    #[serde(default)]
    pub class_filter_mode: bool,
    #[serde(default, deserialize_with = "lenient_codes")]
    pub code_set: Vec<i32>,
    #[serde(default = "default_expression_type")]
    pub expression_type: String,
    #[serde(default)]
    pub sub_string: String,
    #[serde(default)]
    pub sub_version: i64,
    #[serde(default)]
    pub tags_set: Vec<String>,
    #[serde(default)]
    pub topic: String,
}

fn default_expression_type() -> String {
    "TAG".to_string()
}

fn lenient_codes<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<i32>, D::Error> {
    let raw: Option<Vec<serde_json::Value>> = Option::deserialize(d)?;
    Ok(raw
        .unwrap_or_default()
        .into_iter()
        .filter_map(|v| match v {
            serde_json::Value::Number(n) => n.as_i64().map(|x| x as i32),
            serde_json::Value::String(s) => s.trim().parse::<i64>().ok().map(|x| x as i32),
            _ => None,
        })
        .collect())
}

/// Body of GET_CONSUMER_LIST_BY_GROUP's answer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConsumerListBody {
    #[serde(default)]
    pub consumer_id_list: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_go_heartbeat_with_string_codes() {
        let raw = r#"{"clientID":"10.0.0.1@1","producerDataSet":[],"consumerDataSet":[{"groupName":"g","consumeType":"CONSUME_PASSIVELY","messageModel":"CLUSTERING","consumeFromWhere":"CONSUME_FROM_FIRST_OFFSET","unitMode":false,"subscriptionDataSet":[{"classFilterMode":false,"topic":"T","subString":"A || B","tagsSet":["A","B"],"codeSet":["65","66"],"subVersion":1700000000000000000,"expressionType":"TAG"}]}]}"#;
        let h: HeartbeatData = serde_json::from_str(raw).unwrap();
        let sub = &h.consumer_data_set[0].subscription_data_set[0];
        assert_eq!(sub.code_set, vec![65, 66]);
        assert_eq!(h.client_id, "10.0.0.1@1");
    }
}
