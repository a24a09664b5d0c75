"""Writes the two small seed files of the offline default run. Every passage was written for this
project (no copied text). They demonstrate the mechanism; real runs use real seed corpora.
Run from the repo root:  python -m classifiers.seed_data.make_seeds
"""

from __future__ import annotations

import json
from pathlib import Path

MATH = [
    "Let $f(x) = x^2 - 4x + 3$. Completing the square gives $f(x) = (x-2)^2 - 1$, so the vertex of the parabola is at $(2, -1)$ and the roots are $x = 1$ and $x = 3$.",
    "Question: how do I show that the sum of the first $n$ odd numbers is $n^2$? Answer: use induction. For $n = 1$ both sides equal 1. If $1 + 3 + \\dots + (2n-1) = n^2$, adding $2n+1$ gives $n^2 + 2n + 1 = (n+1)^2$.",
    "The derivative of $\\sin x$ is $\\cos x$. To see it, write the difference quotient $\\frac{\\sin(x+h) - \\sin x}{h}$, expand with the angle addition formula and use the limits $\\lim_{h \\to 0} \\frac{\\sin h}{h} = 1$ and $\\lim_{h \\to 0} \\frac{1 - \\cos h}{h} = 0$.",
    "Theorem. Every bounded monotone sequence of real numbers converges. Proof sketch: let $L$ be the supremum of the terms. For any $\\varepsilon > 0$ some term exceeds $L - \\varepsilon$, and monotonicity keeps all later terms between $L - \\varepsilon$ and $L$.",
    "A matrix $A$ is invertible exactly when its determinant is nonzero. For a $2 \\times 2$ matrix with rows $(a, b)$ and $(c, d)$ the inverse is $\\frac{1}{ad - bc}$ times the matrix with rows $(d, -b)$ and $(-c, a)$.",
    "Two fair dice are rolled. The probability that the sum is 7 is $6/36 = 1/6$, because six of the thirty-six equally likely ordered pairs add up to seven: (1,6), (2,5), (3,4), (4,3), (5,2) and (6,1).",
    "The integral $\\int_0^1 x^n \\, dx = \\frac{1}{n+1}$ for every $n \\ge 0$. Summing over $n$ with alternating signs and exchanging sum and integral gives $\\int_0^1 \\frac{dx}{1+x} = \\ln 2 = 1 - \\frac12 + \\frac13 - \\cdots$.",
    "Euclid's lemma: if a prime $p$ divides a product $ab$, then $p$ divides $a$ or $p$ divides $b$. It follows from Bezout's identity, since $\\gcd(p, a) = 1$ gives integers $u, v$ with $up + va = 1$, and multiplying by $b$ shows $p \\mid b$.",
    "The eigenvalues of a symmetric real matrix are real. If $Av = \\lambda v$ with $v \\neq 0$, then $\\bar v^T A v = \\lambda \\|v\\|^2$, and the left side equals its own complex conjugate because $A$ is real and symmetric, so $\\lambda$ is real.",
    "Exercise: find all integer solutions of $x^2 - y^2 = 15$. Factor as $(x-y)(x+y) = 15$ and try the factor pairs $(1,15)$, $(3,5)$ and their negatives and swaps; this gives $(x, y) = (\\pm 8, \\pm 7)$ and $(\\pm 4, \\pm 1)$.",
    "The geometric series $\\sum_{k=0}^{\\infty} r^k$ converges to $\\frac{1}{1-r}$ when $|r| < 1$ and diverges otherwise. The partial sums are $\\frac{1 - r^{n+1}}{1-r}$, and $r^{n+1} \\to 0$ exactly in that range.",
    "In a right triangle with legs $a$ and $b$ and hypotenuse $c$, $a^2 + b^2 = c^2$. One proof arranges four copies of the triangle inside a square of side $a + b$; the uncovered region is a square of side $c$, so $(a+b)^2 = 4 \\cdot \\frac{ab}{2} + c^2$.",
    "Why is $\\sqrt{2}$ irrational? Suppose $\\sqrt{2} = p/q$ in lowest terms. Then $p^2 = 2q^2$, so $p$ is even, say $p = 2k$, which gives $q^2 = 2k^2$ and makes $q$ even too, contradicting lowest terms.",
    "The binomial theorem states $(x + y)^n = \\sum_{k=0}^{n} \\binom{n}{k} x^{n-k} y^k$. Setting $x = y = 1$ shows that the binomial coefficients in row $n$ of Pascal's triangle sum to $2^n$.",
    "A group homomorphism $\\varphi: G \\to H$ is injective if and only if its kernel is trivial. If $\\varphi(a) = \\varphi(b)$ then $\\varphi(ab^{-1}) = e$, so $ab^{-1}$ lies in the kernel.",
    "The expected value of a geometric random variable with success probability $p$ is $1/p$. Condition on the first trial: $E = p \\cdot 1 + (1-p)(1 + E)$, and solving for $E$ gives $E = 1/p$.",
    "Solve the recurrence $a_n = 3a_{n-1} - 2a_{n-2}$ with $a_0 = 0$, $a_1 = 1$. The characteristic equation $t^2 - 3t + 2 = 0$ has roots 1 and 2, so $a_n = \\alpha + \\beta 2^n$, and the initial values give $a_n = 2^n - 1$.",
    "Lagrange multipliers: to maximise $xy$ subject to $x + y = 10$, set $\\nabla(xy) = \\lambda \\nabla(x + y)$, that is $y = \\lambda$ and $x = \\lambda$. Hence $x = y = 5$ and the maximum product is 25.",
    "The area under one arch of $y = \\sin x$, from $0$ to $\\pi$, is $\\int_0^{\\pi} \\sin x \\, dx = [-\\cos x]_0^{\\pi} = 2$.",
    "A metric space is compact if every open cover has a finite subcover. In $\\mathbb{R}^n$ the Heine-Borel theorem says this is the same as being closed and bounded.",
    "Fermat's little theorem: for a prime $p$ and an integer $a$ not divisible by $p$, $a^{p-1} \\equiv 1 \\pmod p$. For example $3^{6} = 729 = 7 \\cdot 104 + 1$, so $3^6 \\equiv 1 \\pmod 7$.",
    "Let $X$ be normally distributed with mean $\\mu$ and variance $\\sigma^2$. The standardised variable $Z = (X - \\mu)/\\sigma$ has mean 0 and variance 1, and about 95% of its mass lies in $[-1.96, 1.96]$.",
    "The Cauchy-Schwarz inequality $|\\langle u, v \\rangle| \\le \\|u\\| \\|v\\|$ follows from expanding $\\|u - tv\\|^2 \\ge 0$ as a quadratic in $t$ and requiring its discriminant to be at most zero.",
    "How many ways can 5 people sit around a round table? Fix one person's seat to remove rotations; the other 4 can be arranged in $4! = 24$ ways.",
    "The Taylor series of $e^x$ about 0 is $\\sum_{n \\ge 0} \\frac{x^n}{n!}$. Its radius of convergence is infinite, by the ratio test: $\\frac{|x|^{n+1}/(n+1)!}{|x|^n/n!} = \\frac{|x|}{n+1} \\to 0$.",
    "A linear map between finite-dimensional spaces satisfies rank plus nullity equals the dimension of the domain. Extend a basis of the kernel to a basis of the whole space; the images of the added vectors form a basis of the image.",
    "The harmonic series $1 + \\frac12 + \\frac13 + \\cdots$ diverges: group the terms as $1 + \\frac12 + (\\frac13 + \\frac14) + (\\frac15 + \\cdots + \\frac18) + \\cdots$, where every group is at least $\\frac12$.",
    "Definition: a function $f$ is continuous at $a$ if for every $\\varepsilon > 0$ there is a $\\delta > 0$ such that $|x - a| < \\delta$ implies $|f(x) - f(a)| < \\varepsilon$.",
    "A number is prime when its only positive divisors are one and itself. Every whole number greater than one can be written as a product of primes in exactly one way, apart from the order of the factors, which is why primes are called the building blocks of arithmetic.",
    "To solve a linear equation, do the same operation to both sides until the unknown stands alone. For three times a number plus four equals nineteen, subtract four from both sides to get fifteen, then divide by three: the number is five.",
    "The square of any real number is never negative, so a quadratic expression written as a constant plus a squared term can never fall below that constant. This simple observation gives the minimum of the expression without any calculus.",
    "A proof by contradiction assumes the statement is false and follows the consequences until two of them cannot both hold. Since a true assumption cannot lead to a contradiction, the original statement must be true.",
    "The greatest common divisor of two integers can be found with Euclid's algorithm: replace the larger number by its remainder when divided by the smaller one, and repeat until the remainder is zero. The last nonzero remainder is the answer.",
    "A function is increasing on an interval when its derivative is positive there. Where the derivative changes sign from positive to negative the function has a local maximum, and where it changes from negative to positive a local minimum.",
    "The probability of an event is a number between zero and one. When two events are independent, the probability that both happen is the product of their probabilities; when they exclude each other, the probability that one of them happens is the sum.",
    "Counting problems often come down to choosing. The number of ways to pick a committee of three people from ten, when order does not matter, is ten times nine times eight divided by the six ways of ordering three people, which is one hundred and twenty.",
    "An equation of the second degree can have two real roots, one repeated root or none, depending on the sign of the discriminant, the square of the middle coefficient minus four times the product of the other two.",
    "The angles of a triangle add up to two right angles. Draw the line through one corner parallel to the opposite side; the two new angles it makes with the sides equal the other two angles of the triangle, and together with the corner angle they form a straight line.",
    "A sequence converges when its terms get and stay arbitrarily close to one number, its limit. The sequence of reciprocals of the natural numbers converges to zero, while the sequence that alternates between one and minus one has no limit.",
    "In modular arithmetic we only keep remainders. Working modulo nine, the remainder of a number equals the remainder of the sum of its digits, which is the reason behind the old rule that a number is divisible by nine when its digit sum is.",
    "已知二次方程 $x^2 - 5x + 6 = 0$，因式分解得 $(x-2)(x-3) = 0$，所以方程的两个根是 $x = 2$ 和 $x = 3$。根与系数的关系给出两根之和为 5，两根之积为 6。",
    "证明：对任意正整数 $n$，$n^3 - n$ 能被 6 整除。因为 $n^3 - n = (n-1)n(n+1)$ 是三个连续整数的乘积，其中必有一个是 3 的倍数，也必有一个是偶数。",
    "求函数 $f(x) = x^3 - 3x$ 的极值。令导数 $f'(x) = 3x^2 - 3 = 0$，得 $x = \\pm 1$。在 $x = -1$ 处取得极大值 2，在 $x = 1$ 处取得极小值 $-2$。",
    "The law of cosines generalises Pythagoras: in any triangle $c^2 = a^2 + b^2 - 2ab\\cos C$. When the angle $C$ is a right angle the cosine vanishes and the familiar identity remains.",
]

OTHER = [
    "Our weekend in the hills started with fog so thick we could barely see the trail markers. By noon the sun broke through, and the view over the valley, with its patchwork of fields and a river shining in the distance, made the early start worthwhile.",
    "To make a simple tomato soup, soften a chopped onion in olive oil, add two cloves of garlic, a tin of tomatoes and a cup of stock, and let it simmer for twenty minutes. Blend it smooth, season with salt and pepper, and finish with a spoon of cream.",
    "The town council met on Tuesday evening to discuss the new bus timetable. Several residents asked for an earlier morning service, and the council agreed to review the proposal with the transport company before the summer.",
    "Tomatoes need at least six hours of direct sun a day. Water them deeply but not too often, and tie the main stem to a stake as it grows so the heavy fruit does not bend it to the ground.",
    "The home team held on for a narrow win after a tense second half. Their goalkeeper made two fine saves in the last ten minutes, and the crowd stayed on its feet until the final whistle.",
    "If your cat suddenly stops eating, watch it closely for a day. Cats can become unwell quickly when they go without food, so call the vet if the appetite does not return or if the cat hides and seems weak.",
    "The castle was built in the thirteenth century to guard the river crossing. Over the next three hundred years it changed hands several times, and the ruined east tower still shows the marks of a long siege.",
    "A good night's sleep starts well before bedtime. Keep the bedroom cool and dark, put the phone in another room, and try to go to bed and wake up at the same time every day, even at weekends.",
    "The film follows two sisters who return to their childhood home after many years apart. The pacing is slow at first, but the quiet scenes in the kitchen, where old arguments come back to the surface, are the heart of the story.",
    "Before painting a wall, fill any cracks, sand the patches smooth and wipe away the dust. A coat of primer helps the colour look even, especially when you paint a light shade over a dark one.",
    "Spring weather in the region is unpredictable. Pack a light rain jacket and a warm layer even on sunny mornings, because afternoon showers and a cold wind from the sea are common until late May.",
    "The choir rehearses every Thursday in the church hall and welcomes new singers. You do not need to read music; most members learn their parts by ear, and the director is patient with beginners.",
    "When planning a family budget, start by listing the fixed bills such as rent, insurance and utilities. Then set aside something for savings before deciding how much is left for food, travel and treats.",
    "The museum's new exhibition brings together paintings of the coast from the last two centuries. Storm scenes hang next to calm summer beaches, and a small room is given over to letters written by the artists.",
    "Our neighbour's apple tree produced so much fruit this year that she left baskets at the garden gate for anyone passing by. By the end of the week the whole street smelled of apple pie.",
    "Running shoes should fit with a thumb's width of space in front of the longest toe. Try them on in the afternoon, when feet are slightly larger, and wear the socks you normally run in.",
    "The library will close for two weeks in August while the roof is repaired. Books due during the closure can be returned to the drop box by the front door, and no late fees will be charged.",
    "She learned to knit from her grandmother, who never used a pattern. Years later she still counts stitches under her breath the way she was taught, and her scarves are famous among her friends.",
    "The coffee shop on the corner changed owners last month. The new couple kept the old wooden tables but added a small bakery counter, and their cinnamon rolls already sell out before ten.",
    "A traveller's tip for long train journeys: bring a refillable water bottle, a paper book in case the battery runs out, and a scarf that can serve as a pillow or a blanket.",
    "The festival parade moved slowly through the old town, with drummers at the front and children in painted masks behind them. Shops closed early so that everyone could watch from the pavement.",
    "Birds that stay through the winter appreciate a feeder with seeds and a shallow dish of fresh water. Clean the feeder every couple of weeks to keep the birds healthy.",
    "After the storm, volunteers spent the weekend clearing fallen branches from the park paths. The council thanked them and promised new trees would be planted in the autumn.",
    "Learning a new language as an adult takes patience. Short daily practice works better than long sessions once a week, and listening to songs or podcasts helps the sounds become familiar.",
    "The bakery uses a sourdough starter that is more than twenty years old. Each loaf rises slowly overnight, which gives the bread its open crumb and slightly sour taste.",
    "Our school trip to the seaside was a success despite the wind. The children collected shells, watched the fishing boats come in, and ate their sandwiches sheltered behind the harbour wall.",
    "周末我们去郊外的山上徒步，早上雾很大，中午太阳出来以后，山谷里的风景非常美。下山的时候我们在小村子里吃了一顿农家饭。",
    "这家小面馆开了二十多年，老板每天早上五点就开始和面。牛肉面的汤头是用骨头慢慢熬出来的，附近的居民几乎每天都来吃。",
    "The hotel room was small but spotless, and the staff at the front desk gave us a hand-drawn map of the best walks along the canal. We would happily stay there again.",
    "Autumn is the best time to plant tulip bulbs. Set them about three times as deep as the bulb is tall, pointed end up, and cover them with a little compost before the first frost.",
    "The match was postponed because of heavy rain that flooded the pitch. Ticket holders can use their tickets for the new date or ask for a refund at the box office.",
    "My grandfather kept a diary for fifty years, writing a few lines every evening about the weather, the farm and the people he met. Reading it now feels like walking through his life one day at a time.",
]


# Web pages that are neither code nor math, in genres a crawl is full of: organisation and about pages,
# people's home pages, news, press and event posts, policies. Everyday prose alone (OTHER) taught the
# model that any formal English about technology or research is code: measured on labelled real pages,
# 45 of 54 such pages were recalled as code (docs/recall.md, "Measured on real pages"). Written after
# seeing the genres of that evaluation's pages, not their text; passages that mirrored a particular
# evaluated page's topic (registries, project histories, a personal blog's posts) were left out, so
# those pages stay out of sample.
OTHER_WEB = [
    "About us. We are an independent nonprofit foundation founded in 2009. Our mission is to support open access to knowledge for everyone. We are funded by donations and grants, and a board of volunteers from twelve countries oversees our work.",
    "Meet the team. Our group brings together researchers, designers and engineers who share an interest in how people find and read scientific literature. We collaborate with universities and libraries around the world.",
    "I am an assistant professor in the school of information at a public university. My research looks at how communities form online and how people decide what to trust. Before that I was a postdoctoral fellow, and I received my PhD in 2019.",
    "Hello! I am a PhD student advised by two wonderful mentors. I grew up by the sea, I like running and baking bread, and I spend too much time reading about the history of maps. My CV and a list of my publications are linked below.",
    "News. Our paper received a best paper award at this year's conference. I will be giving a keynote talk in June and co-organising a workshop in the autumn. I am looking for summer interns; please email me if you are interested.",
    "Publications. Selected papers with my students and collaborators, listed by year. Workshop papers and preprints are marked. Slides and recordings of talks are available on request.",
    "The annual report describes our activities over the past year: grants awarded, events held, partners we worked with, and how donations were spent. Financial statements were audited by an independent firm.",
    "Join our mailing list to hear about new research, press coverage and events. We send one message a month and never share your address.",
    "Our institute is located in the city centre, a short walk from the main station. Visitors should sign in at the reception desk on the ground floor. Parking is limited, so we recommend public transport.",
    "Careers. We are hiring for several positions, including research scientists, an events coordinator and an operations manager. We offer flexible working and a generous parental leave policy.",
    "The foundation's board met on Tuesday and approved the budget for the coming year, elected a new treasurer, and thanked the outgoing chair for six years of service.",
    "Press release. The university today announced a new centre for the study of democracy and media, supported by a gift from an alumni family. The centre will open next autumn with five faculty members.",
    "Contact. For general questions write to the office; for press enquiries call the communications team. Our postal address and opening hours are listed below.",
    "Privacy policy. We collect only the information needed to send you the newsletter. You can unsubscribe at any time, and we delete your address within thirty days of a request.",
    "Terms of use. By using this site you agree not to misuse the services, to respect the rights of others, and to follow the laws of your country. We may update these terms and will announce changes here.",
    "The conference will take place over three days, with invited talks in the mornings and poster sessions in the afternoons. Registration includes lunch and the conference dinner on the second evening.",
    "Our history: the society began as a small reading group of teachers in 1952 and grew into a national association with local chapters, an annual meeting and a quarterly journal.",
]


def main() -> None:
    here = Path(__file__).resolve().parent
    for name, label, texts in (("math.jsonl", "math", MATH), ("other.jsonl", "other", OTHER + OTHER_WEB)):
        with open(here / name, "w", encoding="utf-8") as fh:
            for text in texts:
                fh.write(json.dumps({"text": text, "label": label}, ensure_ascii=False) + "\n")
        print(f"wrote {here / name}: {len(texts)} passages")


if __name__ == "__main__":
    main()
