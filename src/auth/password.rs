//! Password hashing with argon2id at OWASP's parameters (m = 19456 KiB, t = 2, p = 1), on a
//! fixed set of threads, one per core, each reusing one memory buffer.
//!
//! Why not `web::block`: a burst of sign-ins there runs hundreds of hashes at once, each
//! allocating 19 MiB, and the allocator keeps the memory (a prototype reached 7.4 GB).
//! Here at most `threads` hashes run at once, their memory is allocated once per thread, and
//! at most `queue` requests wait; beyond that [`HashError::Busy`] is returned at once and the
//! web layer answers 429. A caller that has work to do before its hash (sign-in reads the
//! stored hash first) takes its place with [`PasswordHasher::reserve`] before that work, so a
//! full queue costs it nothing more.

use argon2::password_hash::{Output, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex};
use tokio::sync::oneshot;

const M_COST_KIB: u32 = 19_456;
const T_COST: u32 = 2;
const P_COST: u32 = 1;
const OUTPUT_LEN: usize = 32;

#[derive(Debug, thiserror::Error)]
pub enum HashError {
    #[error("too many password checks are waiting")]
    Busy,
    #[error("the password hashing threads stopped")]
    Stopped,
    #[error("stored password hash is malformed: {0}")]
    Malformed(String),
}

enum Job {
    Hash { password: String, reply: oneshot::Sender<Result<String, HashError>> },
    Verify { password: String, phc: Option<String>, reply: oneshot::Sender<Result<bool, HashError>> },
}

/// Cheap to clone; all clones feed the same threads.
#[derive(Clone)]
pub struct PasswordHasher {
    jobs: SyncSender<Job>,
    /// Places taken: requests waiting for a thread or being hashed.
    taken: Arc<AtomicUsize>,
    /// Places in all: the queue and one per thread.
    places: usize,
}

/// A place among the password checks; given back when dropped (after the answer came).
pub struct Place {
    taken: Arc<AtomicUsize>,
}

impl Drop for Place {
    fn drop(&mut self) {
        self.taken.fetch_sub(1, Ordering::AcqRel);
    }
}

impl PasswordHasher {
    /// Starts `threads` hashing threads with room for `queue` waiting requests.
    pub fn start(threads: usize, queue: usize) -> Self {
        let threads = threads.max(1);
        let (jobs, receiver) = sync_channel::<Job>(queue);
        let receiver = Arc::new(Mutex::new(receiver));
        for n in 0..threads {
            let receiver = Arc::clone(&receiver);
            std::thread::Builder::new()
                .name(format!("password-hash-{n}"))
                .spawn(move || {
                    yield_to_pages();
                    work(&receiver)
                })
                .expect("spawning a password hashing thread");
        }
        Self { jobs, taken: Arc::new(AtomicUsize::new(0)), places: queue + threads }
    }

    /// Takes a place for one password check, or answers [`HashError::Busy`] at once when
    /// every place is taken.
    pub fn reserve(&self) -> Result<Place, HashError> {
        let place = Place { taken: Arc::clone(&self.taken) };
        if self.taken.fetch_add(1, Ordering::AcqRel) >= self.places {
            return Err(HashError::Busy); // dropping `place` gives the count back
        }
        Ok(place)
    }

    /// Whether every place is taken right now: a sign-in told so is answered "busy" before it
    /// counts against any limit (no password would be checked), so a storm of sign-ins does
    /// not also write a count for each refused attempt. A place may free up a moment later;
    /// [`Self::reserve`] decides.
    pub fn is_full(&self) -> bool {
        self.taken.load(Ordering::Acquire) >= self.places
    }

    /// A PHC string (`$argon2id$v=19$m=19456,t=2,p=1$salt$hash`) for `password`.
    pub async fn hash(&self, password: String) -> Result<String, HashError> {
        let _place = self.reserve()?;
        let (reply, answer) = oneshot::channel();
        self.submit(Job::Hash { password, reply })?;
        answer.await.map_err(|_| HashError::Stopped)?
    }

    /// Whether `password` matches `phc`. With `None` (no such user) a hash is still computed,
    /// so the answer takes as long as for a real user and does not reveal who exists.
    pub async fn verify(&self, password: String, phc: Option<String>) -> Result<bool, HashError> {
        let place = self.reserve()?;
        self.verify_in(place, password, phc).await
    }

    /// [`PasswordHasher::verify`] in a place taken earlier with [`PasswordHasher::reserve`].
    pub async fn verify_in(&self, _place: Place, password: String, phc: Option<String>) -> Result<bool, HashError> {
        let (reply, answer) = oneshot::channel();
        self.submit(Job::Verify { password, phc, reply })?;
        answer.await.map_err(|_| HashError::Stopped)?
    }

    fn submit(&self, job: Job) -> Result<(), HashError> {
        self.jobs.try_send(job).map_err(|e| match e {
            TrySendError::Full(_) => HashError::Busy,
            TrySendError::Disconnected(_) => HashError::Stopped,
        })
    }
}

/// Lowers the calling hashing thread's CPU priority (nice 10), so that during a storm of
/// sign-ins the pages and the API of signed-in users still get the cores: the bench measured
/// members p99 at 209 ms during a login storm with the hashes at normal priority. Sign-ins
/// wait longer instead; the queue still bounds how many.
fn yield_to_pages() {
    #[cfg(target_os = "linux")]
    // SAFETY: plain system calls on the calling thread's own id; lowering one's own priority
    // needs no privilege, and a failure only leaves the priority as it was.
    unsafe {
        let tid = libc::gettid();
        libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, 10);
    }
}

fn work(receiver: &Mutex<Receiver<Job>>) {
    let mut memory: Vec<Block> = Vec::new();
    loop {
        let job = match receiver.lock().map(|r| r.recv()) {
            Ok(Ok(job)) => job,
            _ => return,
        };
        match job {
            Job::Hash { password, reply } => {
                let _ = reply.send(hash_with(&mut memory, &password));
            }
            Job::Verify { password, phc, reply } => {
                let _ = reply.send(verify_with(&mut memory, &password, phc.as_deref()));
            }
        }
    }
}

fn params() -> Params {
    Params::new(M_COST_KIB, T_COST, P_COST, Some(OUTPUT_LEN)).expect("valid argon2 parameters")
}

fn compute(
    memory: &mut Vec<Block>,
    params: Params,
    password: &str,
    salt: &[u8],
    out: &mut [u8],
) -> Result<(), HashError> {
    let blocks = params.block_count();
    if memory.len() != blocks {
        memory.clear();
        memory.resize(blocks, Block::default());
        memory.shrink_to_fit();
    }
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password_into_with_memory(password.as_bytes(), salt, out, &mut memory[..])
        .map_err(|e| HashError::Malformed(e.to_string()))
}

fn hash_with(memory: &mut Vec<Block>, password: &str) -> Result<String, HashError> {
    let salt: [u8; 16] = rand::random();
    let mut out = [0u8; OUTPUT_LEN];
    compute(memory, params(), password, &salt, &mut out)?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| HashError::Malformed(e.to_string()))?;
    let params = params();
    let phc = PasswordHash {
        algorithm: argon2::ARGON2ID_IDENT,
        version: Some(Version::V0x13.into()),
        params: (&params).try_into().map_err(|e: argon2::password_hash::Error| HashError::Malformed(e.to_string()))?,
        salt: Some(salt.as_salt()),
        hash: Some(Output::new(&out).map_err(|e| HashError::Malformed(e.to_string()))?),
    };
    Ok(phc.to_string())
}

fn verify_with(memory: &mut Vec<Block>, password: &str, phc: Option<&str>) -> Result<bool, HashError> {
    let Some(phc) = phc else {
        hash_with(memory, password)?;
        return Ok(false);
    };
    let malformed = |e: argon2::password_hash::Error| HashError::Malformed(e.to_string());
    let parsed = PasswordHash::new(phc).map_err(malformed)?;
    let params = Params::try_from(&parsed).map_err(|e| HashError::Malformed(e.to_string()))?;
    let expected = parsed.hash.ok_or_else(|| HashError::Malformed("no hash".into()))?;
    let mut salt_buf = [0u8; 64];
    let salt = parsed
        .salt
        .ok_or_else(|| HashError::Malformed("no salt".into()))?
        .decode_b64(&mut salt_buf)
        .map_err(malformed)?;
    let mut out = vec![0u8; expected.len()];
    compute(memory, params, password, salt, &mut out)?;
    // Output's equality is constant-time.
    Ok(Output::new(&out).map_err(malformed)? == expected)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_hash_verifies_its_password_and_no_other() {
        let hasher = PasswordHasher::start(1, 4);
        let phc = hasher.hash("correct horse battery".into()).await.unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(hasher.verify("correct horse battery".into(), Some(phc.clone())).await.unwrap());
        assert!(!hasher.verify("correct horse battery!".into(), Some(phc)).await.unwrap());
        assert!(!hasher.verify("anything".into(), None).await.unwrap());
    }

    #[tokio::test]
    async fn a_full_queue_answers_busy_instead_of_piling_up() {
        let hasher = PasswordHasher::start(1, 1);
        let pending: Vec<_> = (0..8).map(|_| hasher.hash("pw-pw-pw-pw".into())).collect();
        let results = futures_util::future::join_all(pending).await;
        assert!(results.iter().any(|r| matches!(r, Err(HashError::Busy))));
        assert!(results.iter().any(|r| r.is_ok()));
    }

    #[tokio::test]
    async fn places_are_refused_when_all_are_taken_and_come_back_when_given_up() {
        let hasher = PasswordHasher::start(1, 1);
        let first = hasher.reserve().unwrap();
        let second = hasher.reserve().unwrap();
        assert!(matches!(hasher.reserve(), Err(HashError::Busy)), "one thread and one queued: two places");
        assert!(hasher.is_full());
        assert!(matches!(hasher.verify("pw".into(), None).await, Err(HashError::Busy)));
        drop(first);
        assert!(!hasher.is_full());
        assert!(!hasher.verify_in(hasher.reserve().unwrap(), "pw".into(), None).await.unwrap());
        drop(second);
        assert_eq!(hasher.taken.load(Ordering::Acquire), 0, "every place was given back");
    }
}
