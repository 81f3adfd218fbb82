//! Launch-link verification on arbitrary query strings: never panics, and
//! never accepts a query it did not sign (a link minted from what it
//! accepts verifies to the same claims).
#![no_main]

use libfuzzer_sys::fuzz_target;

const SECRET: &[u8] = b"fuzzing secret, 32 bytes or more.";
const NOW: i64 = 1_800_000_000;

fuzz_target!(|data: &[u8]| {
    let Ok(query) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(claims) = launch_link::verify(SECRET, "/launch/os/course-1", query, NOW) else {
        return;
    };
    assert!(claims.exp >= NOW);
    let again = launch_link::sign_query(SECRET, &claims).expect("accepted claims sign");
    let back = launch_link::verify(SECRET, "/launch/os/course-1", &again, NOW)
        .expect("re-signed verifies");
    assert_eq!(back, claims);
});
