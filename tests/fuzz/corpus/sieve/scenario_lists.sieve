require "fileinto";
if header :contains "subject" "[lists]" { fileinto "Lists"; }
