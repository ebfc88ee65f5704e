//! The flags word both states keep, as Node keeps `state[kState]`: the
//! accessors `WState` and `RState` share, written once.
//!
//! Each state module has its own bits (`F`, with `F::MIRRORS` and
//! `F::ERRORED`), a `flags: u32` field, an `errored: Option<Error>` field
//! mirrored by `F::ERRORED`, and a `debug_check_mirrors` of its own;
//! [`flag_word!`] adds, for that state type:
//!
//! * a getter per named flag (`ended()`), for code that tests one flag,
//!   and a setter per flag other modules set one at a time
//!   (`set_destroyed(bool)`);
//! * `flags()`, `any(mask)`, `set(mask)` and `clear(mask)`, for the mask
//!   tests of the per-chunk paths (`set` and `clear` refuse the mirror
//!   bits in debug builds: those have their own setters);
//! * `errored()`, `is_errored()`, `set_errored()` and `set_errored_once()`,
//!   which keep `F::ERRORED` in step with `errored`.

/// Generates the shared accessors of a state's flags word (see the module
/// docs), for `$state<$p>`, with a getter per `get` entry and a setter per
/// `set` entry. Paths in the body (`F`, `Error`) resolve where it is used.
macro_rules! flag_word {
    ($state:ident<$p:ident>,
     get { $($get:ident: $gbit:ident;)* }
     set { $($set:ident: $sbit:ident;)* }) => {
        impl<$p> $state<$p> {
            $(
                #[inline]
                pub(crate) fn $get(&self) -> bool {
                    self.flags & F::$gbit != 0
                }
            )*
            $(
                #[inline]
                pub(crate) fn $set(&mut self, on: bool) {
                    if on {
                        self.flags |= F::$sbit;
                    } else {
                        self.flags &= !F::$sbit;
                    }
                }
            )*

            /// The word itself, for mask tests of several flags at once.
            #[inline]
            pub(crate) fn flags(&self) -> u32 {
                self.debug_check_mirrors();
                self.flags
            }

            /// Whether any of the bits of `mask` is set.
            #[inline]
            pub(crate) fn any(&self, mask: u32) -> bool {
                self.flags & mask != 0
            }

            /// Sets the bits of `mask` (no mirror bit).
            #[inline]
            pub(crate) fn set(&mut self, mask: u32) {
                debug_assert_eq!(mask & F::MIRRORS, 0, "mirror bits have their own setters");
                self.flags |= mask;
            }

            /// Clears the bits of `mask` (no mirror bit).
            #[inline]
            pub(crate) fn clear(&mut self, mask: u32) {
                debug_assert_eq!(mask & F::MIRRORS, 0, "mirror bits have their own setters");
                self.flags &= !mask;
            }

            /// The error the side failed with, if any.
            #[inline]
            pub(crate) fn errored(&self) -> Option<&Error> {
                self.errored.as_ref()
            }

            /// `errored.is_some()`, from the mirror bit.
            #[inline]
            pub(crate) fn is_errored(&self) -> bool {
                self.debug_check_mirrors();
                self.flags & F::ERRORED != 0
            }

            /// `errored = err`, with `F::ERRORED` kept in step.
            #[inline]
            pub(crate) fn set_errored(&mut self, err: Option<Error>) {
                if err.is_some() {
                    self.flags |= F::ERRORED;
                } else {
                    self.flags &= !F::ERRORED;
                }
                self.errored = err;
            }

            /// `checkError`'s "if none yet": records `err` unless the side
            /// already has an error.
            #[inline]
            pub(crate) fn set_errored_once(&mut self, err: &Error) {
                if self.errored.is_none() {
                    self.set_errored(Some(err.clone()));
                }
            }
        }
    };
}

pub(crate) use flag_word;

#[cfg(test)]
mod tests {
    //! The invariants every mask test of the two words relies on: a mirror
    //! bit says exactly what the value it mirrors says, after every setter.

    use bytes::Bytes;

    use crate::state::chunk::ChunkOps;
    use crate::state::readable::{RState, F as RF};
    use crate::state::text::Encoding;
    use crate::state::writable::{WState, F as WF};
    use crate::state::Error;

    fn rstate() -> RState<Bytes> {
        RState::new(false, 16, ChunkOps::bytes(), true, true)
    }

    fn wstate() -> WState<Bytes> {
        WState::new(
            false,
            16,
            |b: &Bytes| b.len(),
            false,
            false,
            false,
            true,
            true,
        )
    }

    #[test]
    fn readable_flowing_is_three_states_in_two_bits() {
        let mut st = rstate();
        assert_eq!(st.flowing(), None);
        assert_eq!(st.flags() & (RF::HAS_FLOWING | RF::FLOWING), 0);
        for v in [Some(true), Some(false), None, Some(true), None] {
            st.set_flowing(v);
            assert_eq!(st.flowing(), v);
            assert_eq!(st.is_flowing(), v == Some(true));
            assert_eq!(st.flags() & RF::HAS_FLOWING != 0, v.is_some());
        }
    }

    #[test]
    fn readable_errored_and_decoder_mirrors_follow_their_setters() {
        let mut st = rstate();
        assert!(!st.is_errored() && st.flags() & RF::PUSH_SLOW == 0);
        st.set_errored_once(&Error::custom("E_ONE", "first"));
        st.set_errored_once(&Error::custom("E_TWO", "second"));
        assert_eq!(
            st.errored().map(|e| e.code().to_string()),
            Some("E_ONE".into())
        );
        assert!(st.is_errored() && st.flags() & RF::ERRORED != 0);
        st.set_errored(None);
        assert!(!st.is_errored() && st.errored().is_none());

        st.set_encoding(Encoding::Utf8);
        assert!(st.text().is_some() && st.flags() & RF::DECODER != 0);
        // A decoder alone sends push() off its fast path.
        assert_ne!(st.flags() & RF::PUSH_SLOW, 0);
    }

    #[test]
    fn writable_corked_and_errored_mirrors_follow_their_setters() {
        let mut st = wstate();
        assert!(st.may_write_now());
        st.cork();
        st.cork();
        assert_eq!(st.corked(), 2);
        assert!(st.flags() & WF::CORKED != 0 && !st.may_write_now());
        st.set_corked(1);
        assert!(st.flags() & WF::CORKED != 0);
        st.set_corked(0);
        assert!(st.flags() & WF::CORKED == 0 && st.may_write_now());

        st.set_errored_once(&Error::custom("E_ONE", "first"));
        assert!(st.is_errored() && !st.may_write_now());
        st.set_errored(None);
        assert!(!st.is_errored() && st.may_write_now());
    }

    #[test]
    #[cfg(debug_assertions)]
    #[should_panic(expected = "mirror bits have their own setters")]
    fn a_mirror_bit_cannot_be_set_through_the_generic_setter() {
        rstate().set(RF::ERRORED);
    }

    #[test]
    #[cfg(debug_assertions)]
    #[should_panic(expected = "mirror bits have their own setters")]
    fn a_writable_mirror_bit_cannot_be_cleared_through_the_generic_setter() {
        wstate().clear(WF::CORKED);
    }
}
