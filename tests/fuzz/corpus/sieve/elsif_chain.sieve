/* bracket
 comment */ if false { keep; } elsif false { discard; } elsif true { stop; } else { keep; }
