"""The Otipass (city pass) sandbox: passgate's model of the partner's contract."""
