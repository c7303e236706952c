require ["vacation"];
vacation :days 3 :subject "Away" :from "alice@example.com"
  :addresses ["al@example.com"] :mime :handle "h" text: # reason
I am away until Monday.
..signature
.
;
