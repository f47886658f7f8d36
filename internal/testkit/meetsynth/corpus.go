package meetsynth

// The two generated sets. Tune holds the meetings the diarizer's constants
// may be chosen on (together with the dev set); HeldOut is only ever scored,
// never used to pick a value. Their voice configurations are disjoint (the
// flite voices slt and rms only in Tune; awb, kal and kal16 only in
// HeldOut), and HeldOut adds a speaker count (5), an open-microphone noise
// like the dev set's real meeting, and a pair of espeak-ng male voices that
// differ only by variant, which the tuning meetings do not have.

// English is the sentence pool of the English meetings.
var English = []string{
	"I think we should move the release to the end of the month.",
	"The test results came back this morning and they look fine.",
	"Can you share the document with the whole team before Friday?",
	"We still have three open questions about the budget.",
	"My main concern is the time it takes to onboard new people.",
	"Let us go through the list one item at a time.",
	"The customer asked whether the service works without internet access.",
	"I agree, but we need a clear owner for each task.",
	"Last week the build failed twice because of a missing package.",
	"Could we schedule a short call with the design group tomorrow?",
	"The numbers from the survey are better than we expected.",
	"I would rather keep the old interface for one more version.",
	"Who is going to write the summary of this meeting?",
	"We measured the delay on the new servers and it was under one hundred milliseconds.",
	"That sounds reasonable to me.",
	"The printer on the second floor has been broken since Monday.",
	"If nobody objects, I will send the invitation this afternoon.",
	"We should ask the legal team before we publish anything.",
	"The training session was useful, especially the part about security.",
	"I can take care of the slides, but not the demonstration.",
	"Our users mostly connect from laptops and older phones.",
	"Please remember to update the wiki after the migration.",
	"The new office opens in September, if the works finish on time.",
	"I am not sure the second option is cheaper in the long run.",
	"We lost about two hours yesterday because of the network outage.",
	"Maybe we can split the work between the two teams.",
	"The meeting room on the third floor is booked all week.",
	"Let me check my calendar and come back to you.",
	"Honestly, the first prototype was too slow to be useful.",
	"We need someone to review the contract before it is signed.",
	"The conference in Lisbon was cancelled this year.",
	"I will write down the decisions and the next steps.",
	"It would help to have the figures for the last quarter.",
	"The support team receives about forty requests every day.",
	"Nobody told me that the deadline had changed.",
	"Good point, let us add it to the agenda for next time.",
}

// French is the sentence pool of the French meetings.
var French = []string{
	"Je pense qu'il faut décaler la réunion à mardi prochain.",
	"Les résultats des tests sont arrivés ce matin.",
	"Tu peux envoyer le compte rendu à toute l'équipe ?",
	"Il nous reste trois questions ouvertes sur le budget.",
	"La salle du deuxième étage est réservée toute la semaine.",
	"Je m'occupe des diapositives, mais pas de la démonstration.",
	"Le client demande si le service fonctionne sans connexion.",
	"On pourrait partager le travail entre les deux équipes.",
	"La formation de jeudi a été très utile.",
	"Je vérifie mon agenda et je te réponds cet après-midi.",
	"Il faudrait demander l'avis du service juridique.",
	"Le nouveau bureau ouvre en septembre si les travaux sont finis.",
	"Nous avons perdu deux heures hier à cause de la panne du réseau.",
	"C'est une bonne idée, ajoutons-la à l'ordre du jour.",
	"Qui va rédiger le résumé de cette réunion ?",
	"Les chiffres du dernier trimestre sont meilleurs que prévu.",
}

func p(label string, v Voice, level float64) Participant {
	return Participant{Label: label, Voice: v, LevelDBFS: level}
}

func es(name string, args ...string) Voice { return Voice{Engine: "espeak", Name: name, Args: args} }
func fl(name string) Voice                 { return Voice{Engine: "flite", Name: name} }

// Tune lists the generated meetings whose scores may guide the choice of
// constants.
func Tune() []Spec {
	return []Spec{
		{ID: "gen-tune-01", Seed: 101, Turns: 16, Sentences: English, BackchannelProb: 0.3, InterruptProb: 0.2, NoiseFloorDBFS: -66,
			Participants: []Participant{
				p("anna", fl("slt"), -21),
				p("boris", es("en-us+m3", "-s", "165"), -24),
				p("chen", fl("rms"), -22),
			}},
		{ID: "gen-tune-02", Seed: 102, Turns: 14, Sentences: English, BackchannelProb: 0.3, InterruptProb: 0.2, NoiseFloorDBFS: -66,
			Participants: []Participant{
				p("dora", es("en-gb+f3", "-p", "60"), -22),
				p("emil", fl("rms"), -25),
			}},
		{ID: "gen-tune-03", Seed: 103, Turns: 22, Sentences: English, BackchannelProb: 0.3, InterruptProb: 0.25, NoiseFloorDBFS: -60,
			Participants: []Participant{
				p("fay", fl("slt"), -23),
				p("gus", es("en-us+m1", "-s", "150"), -20),
				p("hana", es("en-gb-x-rp+f4", "-p", "55"), -24),
				p("ivan", es("en-us+m7", "-s", "170"), -21),
			}},
		{ID: "gen-tune-04", Seed: 104, Turns: 10, Sentences: French, BackchannelProb: 0.2, InterruptProb: 0.2, NoiseFloorDBFS: -66,
			Participants: []Participant{
				p("julie", es("fr-fr+f4", "-p", "60"), -22),
				p("karim", es("fr-be+m3", "-s", "155"), -24),
			}},
	}
}

// HeldOut lists the generated meetings that are scored but never tuned on.
func HeldOut() []Spec {
	noisy := p("olga", es("en-us+f2", "-p", "65", "-s", "170"), -23)
	noisy.OpenMicNoiseDBFS = -44
	return []Spec{
		{ID: "gen-held-01", Seed: 201, Turns: 18, Sentences: English, BackchannelProb: 0.3, InterruptProb: 0.2, NoiseFloorDBFS: -66,
			Participants: []Participant{
				p("lena", fl("awb"), -22),
				p("mark", es("en-029+m4", "-s", "160"), -24),
				noisy,
			}},
		{ID: "gen-held-02", Seed: 202, Turns: 24, Sentences: English, BackchannelProb: 0.3, InterruptProb: 0.25, NoiseFloorDBFS: -63,
			Participants: []Participant{
				p("nina", fl("awb"), -21),
				p("otto", es("en-gb-scotland+m7", "-s", "150"), -25),
				p("pia", es("en-us+f5", "-p", "50"), -22),
				p("quinn", fl("kal"), -23),
				p("raj", fl("kal16"), -20),
			}},
		{ID: "gen-held-03", Seed: 203, Turns: 14, Sentences: English, BackchannelProb: 0.3, InterruptProb: 0.2, NoiseFloorDBFS: -66,
			Participants: []Participant{
				p("sam", es("en-us+m2", "-s", "160"), -22),
				p("tom", es("en-gb+m6", "-s", "145"), -23),
			}},
		{ID: "gen-held-04", Seed: 204, Turns: 12, Sentences: French, BackchannelProb: 0.3, InterruptProb: 0.2, NoiseFloorDBFS: -66,
			Participants: []Participant{
				p("ursule", es("fr-fr+f3", "-p", "55"), -21),
				p("victor", es("fr-ch+m5", "-s", "150"), -23),
				p("wanda", es("fr-fr+f1", "-p", "70", "-s", "175"), -25),
			}},
	}
}
