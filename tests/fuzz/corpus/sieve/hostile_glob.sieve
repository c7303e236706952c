if header :matches "subject" "*a*a*a*a*a*a*a*a*a*b" { discard; }
