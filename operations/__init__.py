"""Operations: what drives Chirp's processes and servers from outside them. The local stack,
the `chirp` command line, preparing storage, replaying the log into new read-model
generations, keeping the local broker's log across restarts, and exporting events. This is
the top floor: nothing below imports it."""
