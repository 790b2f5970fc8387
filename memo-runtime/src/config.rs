//! Configuration of a cache type: capacity, default TTL, eviction policy and clock.

use std::time::Duration;

use serde::Serialize;

use crate::clock::Clock;
use crate::error::ConfigError;

/// The name of the cache type used by functions that name none.
pub const DEFAULT_CACHE_TYPE: &str = "default";

/// How a full cache type chooses the entry to drop.
///
/// A full cache type evicts from the table that holds the most (each cached function's
/// entries, and each first segment's manual keys, form a table), and within it by the policy.
/// A table made while its cache type's capacity is 1,024 or more is split into shards (8 to
/// 256, fixed when the table is made) so that threads do not contend; each shard then evicts
/// by the policy among its own entries, which approximates the policy over the whole table.
/// Below 1,024 a table is one shard and the order is exact. A cache type configured smaller
/// after its functions first ran keeps the shards its tables were made with: configure cache
/// types before they are used (at start-up) for the exact order of a small cache.
///
/// Switching the policy of a cache type in use keeps its entries, in the order they were
/// last queued (S3-FIFO queues an entry when it is stored or promoted, LRU also when it is
/// read), and forgets how often they were read. Under S3-FIFO they all start in the main
/// queue, as keys already seen, and new keys enter the probationary queue, which starts
/// empty: until it holds its share (one entry in 40), a full cache makes room from the main
/// queue (the entry queued longest ago first, unless it was read since), as S3-FIFO does
/// whenever its probationary queue is below that share.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum EvictionPolicy {
    /// S3-FIFO (the default): new keys enter a small probationary queue and only keys read
    /// again while there are promoted to the main queue, which gives a second chance to keys
    /// read since they were last considered. One-hit keys and sequential scans pass through
    /// without flushing the popular set, and a hit only sets a counter, so hits stay cheap.
    /// Recently evicted keys are remembered (as hashes) and go straight to the main queue when
    /// they come back.
    #[default]
    S3Fifo,
    /// Least recently used: the entry read or written longest ago is dropped first (within a
    /// shard: see above).
    Lru,
}

/// The configuration of one cache type, made by [`CacheConfig::builder`].
///
/// A read-only value: apply it with [`configure`](crate::configure), which also changes a cache
/// type that is already in use (a smaller capacity evicts at once).
#[derive(Clone, Debug)]
pub struct CacheConfig {
    capacity: usize,
    ttl: Option<Duration>,
    policy: EvictionPolicy,
    clock: Clock,
}

impl CacheConfig {
    /// Capacity of a cache type that is not configured: 10,000 entries.
    pub const DEFAULT_CAPACITY: usize = 10_000;

    /// A builder starting from the defaults: 10,000 entries, no default TTL, S3-FIFO, the
    /// system clock.
    ///
    /// # Example
    ///
    /// ```
    /// use std::time::Duration;
    /// use memo::{CacheConfig, EvictionPolicy};
    ///
    /// let url = CacheConfig::builder()
    ///     .capacity(5_000)
    ///     .ttl(Duration::from_secs(3600))
    ///     .policy(EvictionPolicy::Lru)
    ///     .build()?;
    /// assert_eq!(url.capacity(), 5_000);
    /// # Ok::<(), memo::ConfigError>(())
    /// ```
    pub fn builder() -> CacheConfigBuilder {
        CacheConfigBuilder {
            capacity: Self::DEFAULT_CAPACITY,
            ttl: None,
            policy: EvictionPolicy::default(),
            clock: None,
        }
    }

    /// The most entries the cache type holds at once.
    #[must_use]
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// The TTL of entries whose function or insert gives none; `None` means they never expire.
    #[must_use]
    pub fn ttl(&self) -> Option<Duration> {
        self.ttl
    }

    /// The eviction policy.
    #[must_use]
    pub fn policy(&self) -> EvictionPolicy {
        self.policy
    }

    /// The clock that times the entries.
    #[must_use]
    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// Whether the configuration names a clock other than the system clock.
    pub(crate) fn has_custom_clock(&self) -> bool {
        !self.clock.same_as(&Clock::system())
    }
}

impl Default for CacheConfig {
    fn default() -> Self {
        Self {
            capacity: Self::DEFAULT_CAPACITY,
            ttl: None,
            policy: EvictionPolicy::default(),
            clock: Clock::system(),
        }
    }
}

/// Builds a [`CacheConfig`]; [`build`](Self::build) checks it.
#[derive(Clone, Debug)]
#[must_use]
pub struct CacheConfigBuilder {
    capacity: usize,
    ttl: Option<Duration>,
    policy: EvictionPolicy,
    clock: Option<Clock>,
}

impl CacheConfigBuilder {
    /// The most entries the cache type holds at once (default 10,000; at least 1).
    pub fn capacity(mut self, entries: usize) -> Self {
        self.capacity = entries;
        self
    }

    /// The TTL of entries whose function or insert gives none (default: none, entries never
    /// expire). Must be longer than zero. The cache type keeps it in nanoseconds: a TTL longer
    /// than `u64::MAX - 1` ns (about 584 years) applies, and reads back from the cache type's
    /// [`config`](crate::Cache::config), as that.
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = Some(ttl);
        self
    }

    /// No default TTL: entries live until evicted or invalidated (the default).
    pub fn no_ttl(mut self) -> Self {
        self.ttl = None;
        self
    }

    /// The eviction policy (default [`EvictionPolicy::S3Fifo`]).
    pub fn policy(mut self, policy: EvictionPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// The clock that times entries (default [`Clock::system`]); pass a
    /// [`ManualClock`](crate::ManualClock) in tests.
    pub fn clock(mut self, clock: impl Into<Clock>) -> Self {
        self.clock = Some(clock.into());
        self
    }

    /// Checks the configuration.
    ///
    /// # Errors
    ///
    /// [`ConfigError::ZeroCapacity`] for a capacity of 0 and [`ConfigError::ZeroTtl`] for a
    /// zero default TTL.
    pub fn build(self) -> Result<CacheConfig, ConfigError> {
        if self.capacity == 0 {
            return Err(ConfigError::ZeroCapacity);
        }
        if self.ttl == Some(Duration::ZERO) {
            return Err(ConfigError::ZeroTtl);
        }
        Ok(CacheConfig {
            capacity: self.capacity,
            ttl: self.ttl,
            policy: self.policy,
            clock: self.clock.unwrap_or_default(),
        })
    }
}

/// Checks a cache type name: non-empty ASCII letters, digits, `_`, `-`, `.` and `:`.
pub(crate) fn check_name(name: &str) -> Result<(), ConfigError> {
    let ok = !name.is_empty()
        && name.len() <= 128
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b':'));
    if ok {
        Ok(())
    } else {
        Err(ConfigError::InvalidName {
            name: name.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_capacity_is_rejected() {
        assert_eq!(
            CacheConfig::builder().capacity(0).build().unwrap_err(),
            ConfigError::ZeroCapacity
        );
    }

    #[test]
    fn zero_ttl_is_rejected_and_no_ttl_is_not() {
        assert_eq!(
            CacheConfig::builder()
                .ttl(Duration::ZERO)
                .build()
                .unwrap_err(),
            ConfigError::ZeroTtl
        );
        let c = CacheConfig::builder()
            .ttl(Duration::ZERO)
            .no_ttl()
            .build()
            .unwrap();
        assert_eq!(c.ttl(), None);
    }

    #[test]
    fn defaults_are_documented_values() {
        let c = CacheConfig::builder().build().unwrap();
        assert_eq!(c.capacity(), 10_000);
        assert_eq!(c.policy(), EvictionPolicy::S3Fifo);
        assert!(!c.has_custom_clock());
    }

    #[test]
    fn names_are_checked() {
        assert!(check_name("url").is_ok());
        assert!(check_name("user.v2:eu-1_x").is_ok());
        assert!(check_name("").is_err());
        assert!(check_name("has space").is_err());
        assert!(check_name("ünï").is_err());
    }
}
