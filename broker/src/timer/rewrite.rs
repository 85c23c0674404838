//! Send-path rewrite of timer messages (Java 5.x `HookUtils.handleScheduleMessage`): a message
//! carrying `TIMER_DELAY_SEC`, `TIMER_DELAY_MS` or `TIMER_DELIVER_MS` (and no `DELAY` level)
//! whose deliver time is in the future moves to `rmq_sys_wheel_timer` queue 0 with its real
//! topic and queue in `REAL_TOPIC` / `REAL_QID` and the rounded deliver time in `TIMER_OUT_MS`.
//!
//! Invariants: a message without any of the timer keys and without `DELAY` is left untouched
//! (one pass over its properties, no allocation); a `DELAY` level wins over the timer keys,
//! which are then dropped, as Java does; the delivery re-put (it carries `TIMER_OUT_MS`) is never
//! rewritten twice.

use store::message::properties::{self as props, keys, PropertiesIter};
use store::message::{sys_flag, MessageExtBrokerInner};

/// Java `TimerMessageStore.TIMER_TOPIC`.
pub const TIMER_TOPIC: &str = "rmq_sys_wheel_timer";

/// Timer property names (Java `MessageConst.PROPERTY_TIMER_*`).
pub mod timer_keys {
    pub const DELIVER_MS: &str = "TIMER_DELIVER_MS";
    pub const DELAY_SEC: &str = "TIMER_DELAY_SEC";
    pub const DELAY_MS: &str = "TIMER_DELAY_MS";
    pub const OUT_MS: &str = "TIMER_OUT_MS";
    pub const ENQUEUE_MS: &str = "TIMER_ENQUEUE_MS";
    pub const DEQUEUE_MS: &str = "TIMER_DEQUEUE_MS";
    pub const DEL_UNIQKEY: &str = "TIMER_DEL_UNIQKEY";
}

/// `timerWheelEnable`, `timerMaxDelaySec`, `timerPrecisionMs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimerSettings {
    pub enable: bool,
    pub max_delay_sec: i64,
    pub precision_ms: i64,
}

impl Default for TimerSettings {
    fn default() -> Self {
        TimerSettings {
            enable: true,
            max_delay_sec: 3 * 24 * 3600,
            precision_ms: 1000,
        }
    }
}

/// Why a put is refused (Java `PutMessageStatus.WHEEL_TIMER_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimerRefusal {
    /// Timer keys while `timerWheelEnable=false`.
    NotEnabled,
    /// Unparsable value, deliver time beyond `timerMaxDelaySec`, or a past delete marker.
    Illegal,
}

/// What a single pass over the properties found.
#[derive(Debug, Default)]
struct Scan<'a> {
    delay_level: i32,
    out_ms: bool,
    deliver_ms: Option<&'a str>,
    delay_sec: Option<&'a str>,
    delay_ms: Option<&'a str>,
    del_uniq_key: bool,
}

fn scan(properties: &str) -> Scan<'_> {
    let mut s = Scan::default();
    for (k, v) in PropertiesIter::new(properties) {
        match k {
            keys::DELAY => s.delay_level = v.trim().parse().unwrap_or(0),
            timer_keys::OUT_MS => s.out_ms = true,
            timer_keys::DELIVER_MS => s.deliver_ms = Some(v),
            timer_keys::DELAY_SEC => s.delay_sec = Some(v),
            timer_keys::DELAY_MS => s.delay_ms = Some(v),
            timer_keys::DEL_UNIQKEY => s.del_uniq_key = true,
            _ => {}
        }
    }
    s
}

/// Java `handleScheduleMessage` minus the delay-level move (the caller applies that after):
/// rewrites a future timer message into the timer topic. `now` is the wall clock in ms.
pub fn apply_timer(
    msg: &mut MessageExtBrokerInner,
    timer: &TimerSettings,
    now: i64,
) -> Result<(), TimerRefusal> {
    if !sys_flag::is_consumable(msg.sys_flag) || msg.topic == TIMER_TOPIC {
        return Ok(());
    }
    let s = scan(&msg.properties);
    let has_timer_key = s.deliver_ms.is_some() || s.delay_sec.is_some() || s.delay_ms.is_some();
    if !has_timer_key {
        return Ok(());
    }
    if s.delay_level > 0 {
        // A delay level wins: the timer keys are dropped.
        let mut p = msg.properties.clone();
        for k in [
            timer_keys::DELIVER_MS,
            timer_keys::DELAY_SEC,
            timer_keys::DELAY_MS,
        ] {
            if props::get_property(&p, k).is_some() {
                p = props::remove_property(&p, k);
            }
        }
        msg.properties = p;
        return Ok(());
    }
    if s.out_ms {
        // Already converted once (the delivery re-put of a timer message).
        return Ok(());
    }
    if !timer.enable {
        return Err(TimerRefusal::NotEnabled);
    }
    // Java parses with Long.parseLong (optional sign, no blanks) and lets the sums overflow.
    let parse = |v: &str| v.parse::<i64>().map_err(|_| TimerRefusal::Illegal);
    let mut deliver = if let Some(v) = s.delay_sec {
        now.wrapping_add(parse(v)?.wrapping_mul(1000))
    } else if let Some(v) = s.delay_ms {
        now.wrapping_add(parse(v)?)
    } else {
        parse(s.deliver_ms.unwrap_or_default())?
    };
    if deliver <= now {
        // Due already: stored in its own topic at once (timer keys kept). A delete marker for
        // the past is refused.
        return if s.del_uniq_key {
            Err(TimerRefusal::Illegal)
        } else {
            Ok(())
        };
    }
    if deliver - now > timer.max_delay_sec.saturating_mul(1000) {
        return Err(TimerRefusal::Illegal);
    }
    let p = timer.precision_ms.max(1);
    if deliver % p == 0 {
        deliver -= p;
    } else {
        deliver = deliver / p * p;
    }
    let mut out = props::set_property(&msg.properties, timer_keys::OUT_MS, &deliver.to_string());
    out = props::set_property(&out, keys::REAL_TOPIC, &msg.topic);
    out = props::set_property(&out, keys::REAL_QID, &msg.queue_id.to_string());
    msg.properties = out;
    msg.topic = TIMER_TOPIC.to_string();
    msg.queue_id = 0;
    Ok(())
}

/// The checks Java applies to a batch's own properties (hooks, then `CommitLog.asyncPutMessages`):
/// a transactional batch or one with a `DELAY` level is MESSAGE_ILLEGAL; timer keys are refused
/// as for a single message (Java would move the batch into the timer topic without the keys
/// its delivery needs, where it is never delivered; this broker refuses it instead).
pub fn check_batch(
    properties: &str,
    batch_sys_flag: i32,
    timer: &TimerSettings,
) -> Result<(), BatchRefusal> {
    let s = scan(properties);
    let tran = sys_flag::transaction_type(batch_sys_flag);
    if tran == sys_flag::TRANSACTION_NOT || tran == sys_flag::TRANSACTION_COMMIT {
        let has_timer_key = s.deliver_ms.is_some() || s.delay_sec.is_some() || s.delay_ms.is_some();
        if has_timer_key && s.delay_level <= 0 && !s.out_ms {
            return Err(BatchRefusal::Timer(if timer.enable {
                TimerRefusal::Illegal
            } else {
                TimerRefusal::NotEnabled
            }));
        }
    }
    if tran != sys_flag::TRANSACTION_NOT || s.delay_level > 0 {
        return Err(BatchRefusal::Illegal);
    }
    Ok(())
}

/// Why a batch is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchRefusal {
    /// Java `PutMessageStatus.MESSAGE_ILLEGAL` (delay level or transaction flag).
    Illegal,
    /// A timer refusal.
    Timer(TimerRefusal),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(pairs: &[(&str, &str)]) -> MessageExtBrokerInner {
        MessageExtBrokerInner::new(
            "T",
            3,
            &b"x"[..],
            props::encode_properties(pairs.iter().copied()),
        )
    }

    const NOW: i64 = 1_700_000_000_500;

    #[test]
    fn plain_message_is_untouched() {
        let mut m = msg(&[("TAGS", "a"), ("UNIQ_KEY", "u")]);
        let before = m.clone();
        apply_timer(&mut m, &TimerSettings::default(), NOW).unwrap();
        assert_eq!(m, before);
    }

    #[test]
    fn future_deliver_time_moves_to_the_timer_topic_rounded_down() {
        let t = TimerSettings::default();
        let mut m = msg(&[("TIMER_DELIVER_MS", "1700000003700")]);
        apply_timer(&mut m, &t, NOW).unwrap();
        assert_eq!((m.topic.as_str(), m.queue_id), (TIMER_TOPIC, 0));
        assert_eq!(m.property("TIMER_OUT_MS"), Some("1700000003000"));
        assert_eq!(m.property("REAL_TOPIC"), Some("T"));
        assert_eq!(m.property("REAL_QID"), Some("3"));
        assert_eq!(m.property("TIMER_DELIVER_MS"), Some("1700000003700"));
        // An exact multiple of the precision goes one slot earlier.
        let mut m = msg(&[("TIMER_DELIVER_MS", "1700000003000")]);
        apply_timer(&mut m, &t, NOW).unwrap();
        assert_eq!(m.property("TIMER_OUT_MS"), Some("1700000002000"));
    }

    #[test]
    fn delay_sec_and_ms_count_from_now_and_sec_wins() {
        let t = TimerSettings::default();
        let mut m = msg(&[("TIMER_DELAY_MS", "3000")]);
        apply_timer(&mut m, &t, NOW).unwrap();
        assert_eq!(m.property("TIMER_OUT_MS"), Some("1700000003000"));
        let mut m = msg(&[("TIMER_DELAY_MS", "999999"), ("TIMER_DELAY_SEC", "2")]);
        apply_timer(&mut m, &t, NOW).unwrap();
        assert_eq!(m.property("TIMER_OUT_MS"), Some("1700000002000"));
    }

    #[test]
    fn past_or_negative_is_stored_at_once_garbage_and_too_far_refused() {
        let t = TimerSettings::default();
        for v in [("TIMER_DELAY_SEC", "-5"), ("TIMER_DELIVER_MS", "1")] {
            let mut m = msg(&[v]);
            let before = m.clone();
            apply_timer(&mut m, &t, NOW).unwrap();
            assert_eq!(m, before);
        }
        for v in [
            ("TIMER_DELAY_SEC", "abc"),
            ("TIMER_DELAY_MS", " 5"),
            ("TIMER_DELIVER_MS", "1.5"),
            ("TIMER_DELAY_SEC", "259201"),
        ] {
            let mut m = msg(&[v]);
            assert_eq!(
                apply_timer(&mut m, &t, NOW),
                Err(TimerRefusal::Illegal),
                "{v:?}"
            );
        }
        let mut m = msg(&[("TIMER_DELAY_SEC", "259200")]);
        apply_timer(&mut m, &t, NOW).unwrap();
        assert_eq!(m.topic, TIMER_TOPIC);
        let mut m = msg(&[("TIMER_DELIVER_MS", "1"), ("TIMER_DEL_UNIQKEY", "T+u")]);
        assert_eq!(apply_timer(&mut m, &t, NOW), Err(TimerRefusal::Illegal));
    }

    #[test]
    fn disabled_wheel_refuses_and_delay_level_wins() {
        let off = TimerSettings {
            enable: false,
            ..TimerSettings::default()
        };
        let mut m = msg(&[("TIMER_DELAY_SEC", "2")]);
        assert_eq!(
            apply_timer(&mut m, &off, NOW),
            Err(TimerRefusal::NotEnabled)
        );
        let mut m = msg(&[("DELAY", "2"), ("TIMER_DELAY_SEC", "2"), ("TAGS", "a")]);
        apply_timer(&mut m, &off, NOW).unwrap();
        assert_eq!(m.topic, "T");
        assert_eq!(m.property("TIMER_DELAY_SEC"), None);
        assert_eq!(m.property("TAGS"), Some("a"));
    }

    #[test]
    fn redelivery_and_transactions_are_not_rewritten() {
        let t = TimerSettings::default();
        let mut m = msg(&[("TIMER_DELIVER_MS", "1700000009000"), ("TIMER_OUT_MS", "1")]);
        let before = m.clone();
        apply_timer(&mut m, &t, NOW).unwrap();
        assert_eq!(m, before);
        let mut half = msg(&[("TIMER_DELAY_SEC", "5")]);
        half.sys_flag = sys_flag::TRANSACTION_PREPARED;
        apply_timer(&mut half, &t, NOW).unwrap();
        assert_eq!(half.topic, "T");
        let mut commit = msg(&[("TIMER_DELAY_SEC", "5")]);
        commit.sys_flag = sys_flag::TRANSACTION_COMMIT;
        apply_timer(&mut commit, &t, NOW).unwrap();
        assert_eq!(commit.topic, TIMER_TOPIC);
    }

    #[test]
    fn batches_with_delay_timer_or_transaction_flags_are_refused() {
        let t = TimerSettings::default();
        let p = |pairs: &[(&str, &str)]| props::encode_properties(pairs.iter().copied());
        assert_eq!(check_batch(&p(&[("WAIT", "true")]), 0, &t), Ok(()));
        assert_eq!(check_batch(&p(&[("DELAY", "0")]), 0, &t), Ok(()));
        assert_eq!(
            check_batch(&p(&[("DELAY", "3")]), 0, &t),
            Err(BatchRefusal::Illegal)
        );
        assert_eq!(
            check_batch(&p(&[("DELAY", "3"), ("TIMER_DELAY_SEC", "2")]), 0, &t),
            Err(BatchRefusal::Illegal)
        );
        assert_eq!(
            check_batch("", sys_flag::TRANSACTION_COMMIT, &t),
            Err(BatchRefusal::Illegal)
        );
        assert_eq!(
            check_batch(&p(&[("TIMER_DELAY_SEC", "2")]), 0, &t),
            Err(BatchRefusal::Timer(TimerRefusal::Illegal))
        );
    }
}
