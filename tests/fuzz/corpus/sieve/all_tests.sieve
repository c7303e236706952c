require ["envelope", "fileinto", "copy", "reject", "comparator-i;octet"];
# every test once
if allof (address :domain :is "from" "example.org",
          envelope :localpart :matches "to" "al*",
          header :comparator "i;octet" :contains ["subject", "x-empty"] ["Weekly", "x"],
          size :over 10K, not size :under 1M, exists ["from", "to"], true, not false) {
  fileinto :copy "Archive.2025";
} elsif anyof (header :matches "subject" "*a?b\\*c", address :all "cc" "erin@example.com") {
  redirect :copy "carol@example.net"; discard;
} else { reject "no"; stop; }
keep;
