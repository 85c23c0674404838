//! `extFields`: the string-to-string "custom header" of a command. Kept in arrival order so a
//! decoded header re-encodes byte for byte; inserting an existing key replaces its value in
//! place, which is also how duplicate keys in a binary header resolve (last one wins).
//! Keys of the typed headers are static strings, decoded or written without an allocation.

use std::borrow::Cow;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExtFields(Vec<(Cow<'static, str>, String)>);

/// The static copy of a well-known key (every field of the typed headers, plus the response
/// fields the broker adds), so a decoded key needs no allocation.
pub fn intern(key: &str) -> Option<&'static str> {
    Some(match key {
        "MSG_REGION" => "MSG_REGION",
        "TRACE_ON" => "TRACE_ON",
        "a" => "a",
        "acceptStandardJsonOnly" => "acceptStandardJsonOnly",
        "addTopicCount" => "addTopicCount",
        "attributes" => "attributes",
        "b" => "b",
        "batch" => "batch",
        "batchUniqId" => "batchUniqId",
        "beginTimestamp" => "beginTimestamp",
        "bname" => "bname",
        "bornHost" => "bornHost",
        "bornTimestamp" => "bornTimestamp",
        "boundaryType" => "boundaryType",
        "brokerAddr" => "brokerAddr",
        "brokerId" => "brokerId",
        "brokerName" => "brokerName",
        "c" => "c",
        "changed" => "changed",
        "cleanOffset" => "cleanOffset",
        "clientID" => "clientID",
        "clientId" => "clientId",
        "cluster" => "cluster",
        "clusterName" => "clusterName",
        "commitLogOffset" => "commitLogOffset",
        "commitOffset" => "commitOffset",
        "commitOrRollback" => "commitOrRollback",
        "committed" => "committed",
        "compressed" => "compressed",
        "confirmOffset" => "confirmOffset",
        "consumerGroup" => "consumerGroup",
        "d" => "d",
        "defaultTopic" => "defaultTopic",
        "defaultTopicQueueNums" => "defaultTopicQueueNums",
        "delayLevel" => "delayLevel",
        "destGroup" => "destGroup",
        "e" => "e",
        "electionPriority" => "electionPriority",
        "enableActingMaster" => "enableActingMaster",
        "endTimestamp" => "endTimestamp",
        "epoch" => "epoch",
        "expressionType" => "expressionType",
        "f" => "f",
        "flag" => "flag",
        "force" => "force",
        "fromTransactionCheck" => "fromTransactionCheck",
        "g" => "g",
        "group" => "group",
        "groupName" => "groupName",
        "groupSysFlag" => "groupSysFlag",
        "h" => "h",
        "haServerAddr" => "haServerAddr",
        "heartbeatTimeoutMillis" => "heartbeatTimeoutMillis",
        "heartbeatTimeoutMills" => "heartbeatTimeoutMills",
        "i" => "i",
        "indexLastUpdatePhyoffset" => "indexLastUpdatePhyoffset",
        "indexLastUpdateTimestamp" => "indexLastUpdateTimestamp",
        "isForce" => "isForce",
        "j" => "j",
        "jstackEnable" => "jstackEnable",
        "k" => "k",
        "key" => "key",
        "l" => "l",
        "lo" => "lo",
        "m" => "m",
        "masterAddr" => "masterAddr",
        "maxMsgBytes" => "maxMsgBytes",
        "maxMsgNums" => "maxMsgNums",
        "maxNum" => "maxNum",
        "maxOffset" => "maxOffset",
        "maxReconsumeTimes" => "maxReconsumeTimes",
        "minOffset" => "minOffset",
        "msgId" => "msgId",
        "n" => "n",
        "namespace" => "namespace",
        "nextBeginOffset" => "nextBeginOffset",
        "offline" => "offline",
        "offset" => "offset",
        "offsetMsgId" => "offsetMsgId",
        "order" => "order",
        "originMsgId" => "originMsgId",
        "originTopic" => "originTopic",
        "perm" => "perm",
        "producerGroup" => "producerGroup",
        "properties" => "properties",
        "queueId" => "queueId",
        "queueOffset" => "queueOffset",
        "readQueueNums" => "readQueueNums",
        "recallHandle" => "recallHandle",
        "reconsumeTimes" => "reconsumeTimes",
        "setZeroIfNotFound" => "setZeroIfNotFound",
        "srcGroup" => "srcGroup",
        "statsKey" => "statsKey",
        "statsName" => "statsName",
        "storeHost" => "storeHost",
        "storeTimestamp" => "storeTimestamp",
        "subVersion" => "subVersion",
        "subscription" => "subscription",
        "suggestWhichBrokerId" => "suggestWhichBrokerId",
        "suspendTimeoutMillis" => "suspendTimeoutMillis",
        "sysFlag" => "sysFlag",
        "timestamp" => "timestamp",
        "topic" => "topic",
        "topicFilterType" => "topicFilterType",
        "topicList" => "topicList",
        "topicSysFlag" => "topicSysFlag",
        "tranStateTableOffset" => "tranStateTableOffset",
        "transactionId" => "transactionId",
        "unitMode" => "unitMode",
        "value" => "value",
        "wipeTopicCount" => "wipeTopicCount",
        "writeQueueNums" => "writeQueueNums",
        "zoneName" => "zoneName",
        _ => return None,
    })
}

/// A key as stored: the static copy when it is well known, else an owned copy.
pub fn key_of(key: &str) -> Cow<'static, str> {
    match intern(key) {
        Some(k) => Cow::Borrowed(k),
        None => Cow::Owned(key.to_string()),
    }
}

impl ExtFields {
    pub const fn new() -> Self {
        Self(Vec::new())
    }

    pub fn with_capacity(n: usize) -> Self {
        Self(Vec::with_capacity(n))
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k.as_ref() == key)
            .map(|(_, v)| v.as_str())
    }

    /// Moves the value of `key` out, leaving an empty one in its place.
    pub fn take(&mut self, key: &str) -> Option<String> {
        self.0
            .iter_mut()
            .find(|(k, _)| k.as_ref() == key)
            .map(|(_, v)| std::mem::take(v))
    }

    /// Sets `key` to `value`, replacing an earlier value of the same key.
    pub fn insert(&mut self, key: impl Into<Cow<'static, str>>, value: impl Into<String>) {
        let key = key.into();
        let value = value.into();
        match self.0.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = value,
            None => self.0.push((key, value)),
        }
    }

    pub fn remove(&mut self, key: &str) -> Option<String> {
        let pos = self.0.iter().position(|(k, _)| k.as_ref() == key)?;
        Some(self.0.remove(pos).1)
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_ref(), v.as_str()))
    }

    /// Adds every field of `other`, replacing same-named ones.
    pub fn extend(&mut self, other: ExtFields) {
        for (k, v) in other.0 {
            self.insert(k, v);
        }
    }
}

impl FromIterator<(String, String)> for ExtFields {
    fn from_iter<T: IntoIterator<Item = (String, String)>>(iter: T) -> Self {
        let mut ext = ExtFields::new();
        for (k, v) in iter {
            ext.insert(k, v);
        }
        ext
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn well_known_keys_are_static() {
        assert!(matches!(key_of("topic"), Cow::Borrowed("topic")));
        assert!(matches!(key_of("a"), Cow::Borrowed("a")));
        assert!(matches!(key_of("MSG_REGION"), Cow::Borrowed(_)));
        assert!(matches!(key_of("someUserKey"), Cow::Owned(_)));
    }

    #[test]
    fn insert_replaces_in_place_keeping_order() {
        let mut e = ExtFields::new();
        e.insert("a", "1");
        e.insert("b", "2");
        e.insert("a", "3");
        let v: Vec<_> = e.iter().collect();
        assert_eq!(v, vec![("a", "3"), ("b", "2")]);
    }
}
